"""Data-subject lifecycle: consent, storing, export (Art. 15/20), rectification (Art. 16), erasure
(Art. 17), restriction (Art. 18), objection to the improvement purpose (Art. 21), retention purge.

Every action ends up in the audit trail with the subject's pseudonym (a prefix of its keyed hash),
never with the reference code or any message text.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from agent.clock import iso, utc_now
from agent.errors import AgentError
from agent.privacy.answer_stats import AnswerStatistics
from agent.privacy.audit import AuditError, AuditLog, DatabaseAuditLog
from agent.privacy.crypto import Keyring, load_master_key, new_reference_code, normalise_reference_code
from agent.privacy.redaction import Redactor
from agent.privacy.special_categories import statistics
from agent.privacy.store import ConversationStore, ProcessingLimits, UnknownSubject, sqlite_url
from agent.settings import Settings

log = logging.getLogger(__name__)

EXPORT_PREFIX = "my-data-"
EXPORT_MAX_AGE_S = 3600
ERASURE_DETAIL = "subject_key_destroyed"  # every erasure's audit entry carries it
# Limits a subject may set on processing: request -> (ProcessingLimits field, set it?, audit event).
LIMIT_REQUESTS = {
    "restrict": ("restricted_at", True, "restriction"),
    "lift": ("restricted_at", False, "restriction_lifted"),
    "object": ("objected_at", True, "objection"),
    "unobject": ("objected_at", False, "objection_withdrawn"),
}
# Requests under Art. 16, 18 and 21, listed in the subject's export.
RIGHTS_EVENTS = (
    "rectification",
    "restriction",
    "restriction_lifted",
    "objection",
    "objection_withdrawn",
)  # download copies older than this are removed by every purge


class ReferenceCodeError(AgentError):
    """A reference code that is malformed or unknown."""


class RequestError(AgentError):
    """A data-subject request that cannot be done as asked (no such message, empty correction)."""


class ProcessingRestricted(AgentError):
    """The subject restricted processing (Art. 18): its stored data is used for nothing new."""


@dataclass(frozen=True)
class SubjectSummary:
    """What is stored about one subject, as counts (no content): for the privacy officer's search."""

    pseudonym: str
    consent_at: str
    notice_version: str
    messages: int
    tickets: int
    feedback: int
    restricted_at: str | None = None
    objected_at: str | None = None


class DataSubjects:
    """The one entry point for everything done with a customer's stored data."""

    def __init__(
        self,
        settings: Settings,
        store: ConversationStore,
        audit: AuditLog,
        forget_caches: Callable[[], None] | None = None,
    ) -> None:
        self._settings = settings
        self.store = store
        self.audit = audit
        self.statistics = AnswerStatistics(store)  # anonymous counts for the support lead's overview
        self._forget_caches = forget_caches or (lambda: None)
        self._erasures_seen: int | None = None  # the audit entry up to which erasures were followed
        self._exports = settings.temp_dir / "exports"
        self._redactor = Redactor(settings.redaction_types, settings.phone_region)

    # consent ------------------------------------------------------------------------------------
    def consent_to_store(self) -> str:
        """A customer chose "chat and keep my conversation": a new reference code for them."""
        return self._new_subject(choice="store")

    def consent_without_storing(self) -> None:
        """A customer chose "chat without storing anything": recorded without any subject."""
        self.audit.record(
            "consent_given", "customer", choice="no_store", notice_version=self._settings.notice_version
        )

    def withdraw_without_storing(self) -> None:
        """A customer who stored nothing withdraws consent: recorded without any subject."""
        self.audit.record("consent_withdrawn", "customer", choice="no_store")

    def withdraw(self, reference: str) -> dict[str, Any]:
        """Withdrawing consent stops storing and erases what was stored."""
        return self.erase(reference, actor="customer", event="consent_withdrawn")

    def special_categories_held(self, categories: list[str]) -> None:
        """A message held back as likely special-category data: counted in the redaction statistics
        (ART9_<category>, per day, linked to no one), whether or not the customer sends it later."""
        self.store.count_redactions(statistics(categories))

    def special_categories_confirmed(self, categories: list[str], reference: str | None) -> None:
        """The customer sends such a message anyway: their explicit consent (Art. 9(2)(a)), recorded with
        the category names and, for a kept conversation, the subject's pseudonym; never the text."""
        subject = pseudonym(self.store.subject_id(reference)) if reference else None
        self.audit.record("special_category_consent", "customer", categories=[*categories], subject=subject)

    def remember(
        self,
        reference: str,
        question: str,
        answer: str,
        *,
        refused: bool = False,
        redacted: dict[str, int] | None = None,
    ) -> None:
        """Store one (already redacted) question and its answer; a refused one also joins the gaps list.
        Nothing is stored while the subject restricts processing; no gap entry after an objection."""
        limits = self.store.processing_limits(reference)
        if not limits.restricted_at:
            self.store.append(reference, "customer", question)
            self.store.append(reference, "assistant", answer)
            if refused and not limits.objected_at:
                self.store.add_signal(reference, "refused", question)
        self.store.count_redactions(redacted or {})

    def rate(self, reference: str, question: str, helpful: bool) -> None:
        """A consenting customer's thumbs up or down on the answer to `question` (redacted); not kept
        while processing is restricted or after an objection to improving the help center."""
        limits = self.store.processing_limits(reference)
        if limits.restricted_at or limits.objected_at:
            return
        self.store.add_signal(reference, "thumbs_up" if helpful else "thumbs_down", question)

    def open_ticket(self, reference: str | None, transcript: str, contact: str) -> tuple[int, str]:
        """Hand a conversation to a human: (ticket number, reference code). A customer who chose not to
        store anything gets a reference code now: leaving a contact is their consent to keep this ticket."""
        if reference is None:
            reference = self._new_subject(choice="handoff")
        elif self.store.processing_limits(reference).restricted_at:
            raise ProcessingRestricted(
                "You restricted the processing of your stored conversation, so it cannot be handed to a "
                "person. Lift the restriction under “My data” first, or contact us directly."
            )
        ticket = self.store.add_ticket(reference, transcript, contact)
        self.audit.record(
            "handoff_created", "customer", ticket=ticket, subject=pseudonym(self.store.subject_id(reference))
        )
        return ticket, reference

    # rights -------------------------------------------------------------------------------------
    def export(self, reference: str, actor: str) -> dict[str, Any]:
        """Everything stored about the subject, machine-readable (GDPR Art. 15 and 20)."""
        code = self.known(reference)
        consent_at, notice_version = self.store.consent(code)
        messages = self.store.messages(code)
        subject = self.store.subject_id(code)
        limits = self.store.processing_limits(code)
        requests = [
            {"at": e["at"], "request": e["event"], "by": "you" if e["actor"] == "customer" else "staff"}
            for e in self.audit.entries()
            if e["event"] in RIGHTS_EVENTS and e["details"].get("subject") == pseudonym(subject)
        ]
        self.audit.record("export", actor, subject=pseudonym(subject), messages=len(messages))
        return {
            "reference_code": code,
            "exported_at": iso(),
            "controller": self._settings.controller,
            "contact": self._settings.privacy_contact,
            "purpose": "answering your support questions; improving the help center",
            "legal_basis": "consent (GDPR Art. 6(1)(a))",
            "consent": {"given_at": consent_at, "notice_version": notice_version},
            "retention_days": self._settings.retention_days,
            "retention_days_by_category": self._settings.retention_periods(),
            "note": "Personal data such as e-mail addresses was removed from messages before storing "
            "(shown as placeholders like [EMAIL]).",
            "processing_restricted_since": limits.restricted_at,
            "objected_to_improving_the_help_center_since": limits.objected_at,
            "requests": requests,
            "messages": [{"number": m.id, "at": m.at, "from": m.role, "text": m.text} for m in messages],
            "feedback": [
                {"at": s.at, "kind": s.kind, "question": s.question}
                for s in self.store.signals(("refused", "thumbs_up", "thumbs_down"), subject)
            ],
            "handoff_tickets": [
                {
                    "number": t.id,
                    "created_at": t.created_at,
                    "status": t.status,
                    "contact": t.contact,
                    "transcript": t.transcript,
                }
                for t in self.store.tickets(subject=subject)
            ],  # fmt: skip
        }

    def rectify_message(self, reference: str, number: int, text: str, actor: str) -> str:
        """Correct a stored message (Art. 16); the new text is redacted like any message and returned."""
        code = self.known(reference)
        redaction = self._redactor.redact(text.strip())
        if not redaction.text:
            raise RequestError("Type the corrected text of the message.")
        self._on_subject(code, lambda: self.store.rectify_message(code, number, redaction.text))
        self.store.count_redactions(redaction.found)
        self._record_right("rectification", actor, code, target="message", number=number)
        return redaction.text

    def rectify_contact(self, reference: str, ticket: int, contact: str, actor: str) -> None:
        """Correct the contact left with a handoff ticket (Art. 16)."""
        code = self.known(reference)
        if not contact.strip():
            raise RequestError("Type the corrected contact (an e-mail address or phone number).")
        self._on_subject(code, lambda: self.store.rectify_contact(code, ticket, contact.strip()))
        self._record_right("rectification", actor, code, target="contact", number=ticket)

    def limit_processing(self, reference: str, request: str, actor: str) -> ProcessingLimits:
        """One of LIMIT_REQUESTS: restrict processing or lift it (Art. 18: the data stays, sealed, used for
        nothing, hidden from support leads, nothing new stored), object to using the conversation to
        improve the help center or withdraw that (Art. 21: its feedback and gap entries are deleted and
        no new ones kept)."""
        if request not in LIMIT_REQUESTS:
            raise RequestError(f"Choose {', '.join(LIMIT_REQUESTS)}.")
        field, on, event = LIMIT_REQUESTS[request]
        code = self.known(reference)
        limits = replace(self.store.processing_limits(code), **{field: iso() if on else None})
        removed = self.store.set_processing_limits(code, limits)
        details = {"feedback_rows_deleted": removed} if field == "objected_at" else {}
        self._record_right(event, actor, code, **details)
        return limits

    def summary(self, reference: str) -> SubjectSummary:
        """Counts of what is stored for a reference code (ReferenceCodeError when unknown); not audited."""
        code = self.known(reference)
        consent_at, notice_version = self.store.consent(code)
        limits = self.store.processing_limits(code)
        subject = self.store.subject_id(code)
        return SubjectSummary(
            pseudonym(subject),
            consent_at,
            notice_version,
            messages=len(self.store.messages(code)),
            tickets=len(self.store.tickets(subject=subject)),
            feedback=len(self.store.signals(("refused", "thumbs_up", "thumbs_down"), subject)),
            restricted_at=limits.restricted_at,
            objected_at=limits.objected_at,
        )

    def export_file(self, reference: str, actor: str) -> Path:
        """The export as a JSON file for download (removed on erasure and by the next purge)."""
        data = self.export(reference, actor)
        self._exports.mkdir(parents=True, exist_ok=True, mode=0o700)
        name = f"{EXPORT_PREFIX}{pseudonym(self.store.subject_id(data['reference_code']))}-"
        path = self._exports / f"{name}{secrets.token_hex(4)}.json"
        path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
        path.chmod(0o600)
        return path

    def erase(self, reference: str, actor: str, event: str = "erasure") -> dict[str, Any]:
        """Delete everything of the subject everywhere it can be; returns a receipt without content."""
        subject = self.store.subject_id(self.known(reference))
        return self._erase_subject(subject, actor, event)

    def purge(self, actor: str = "retention", now: datetime | None = None) -> dict[str, Any]:
        """Delete everything past its retention period, each category by its own; counts per category.

        Conversations: messages `retention_days` after the subject's last activity. The subject and its
        key go too (audited as `erasure_by_retention`) unless a ticket or feedback still within its own
        period needs them; then only the messages go. Tickets: `ticket_retention_days` after they were
        marked done (open ones stay: a customer is waiting for the reply; they are counted). Feedback:
        `feedback_retention_days` after it was given. Anonymous answer statistics:
        `statistics_retention_days` after their day. Simulation run folders and uploaded past-ticket
        files in the temp folder: `simulation_retention_days` after they were last written. Audit
        entries: `audit_retention_days`, pruned behind a checkpoint. Download copies: after one hour.
        """
        now = now or utc_now()
        settings = self._settings

        def before(days: int) -> str:
            return iso(now - timedelta(days=days))

        feedback_deleted, tickets_deleted = self.store.erase_expired_rows(
            feedback_before=before(settings.feedback_retention_days),
            tickets_done_before=before(settings.ticket_retention_days),
        )
        statistics_deleted = self.statistics.purge(
            (now - timedelta(days=settings.statistics_retention_days)).date()
        )
        erased = messages_deleted = 0
        for subject in self.store.expired(settings.retention_days, now):
            if self.store.holds_tickets_or_feedback(subject):
                messages_deleted += self.store.erase_messages(subject)
            else:
                self._erase_subject(subject, actor, "erasure_by_retention")
                erased += 1
        from agent.staff.console import remove_simulation_files  # the simulations' own module, loaded late

        uploads, runs = remove_simulation_files(
            settings, now - timedelta(days=settings.simulation_retention_days)
        )
        stale = [p for p in self._download_copies("") if time.time() - p.stat().st_mtime > EXPORT_MAX_AGE_S]
        for path in stale:
            path.unlink(missing_ok=True)
        try:
            pruned = self.audit.prune(now - timedelta(days=settings.audit_retention_days), actor)
            not_pruned = ""
        except AuditError as exc:  # the rest of the purge has happened: record it, say why not this
            log.error("audit trail not pruned: %s", exc)
            pruned, not_pruned = 0, str(exc)
        summary = {
            "expired_conversations_erased": erased,
            "expired_messages_deleted": messages_deleted,
            "handoff_tickets_deleted": tickets_deleted,
            "open_tickets_past_period": self.store.open_tickets_before(
                before(settings.ticket_retention_days)
            ),
            "feedback_deleted": feedback_deleted,
            "answer_statistics_deleted": statistics_deleted,
            "simulation_uploads_deleted": uploads,
            "simulation_runs_deleted": runs,
            "audit_entries_pruned": pruned,
            **({"audit_not_pruned": not_pruned} if not_pruned else {}),
            "stale_download_copies_removed": len(stale),
            "retention_days": settings.retention_days,
            "ticket_retention_days": settings.ticket_retention_days,
            "feedback_retention_days": settings.feedback_retention_days,
            "simulation_retention_days": settings.simulation_retention_days,
            "statistics_retention_days": settings.statistics_retention_days,
            "audit_retention_days": settings.audit_retention_days,
        }
        self.audit.record("purge", actor, **summary)
        return summary

    # internals ----------------------------------------------------------------------------------
    def _new_subject(self, choice: str) -> str:
        """A new reference code whose subject records the consent (time, notice version, audit entry)."""
        reference = new_reference_code()
        subject = self.store.open_subject(reference, self._settings.notice_version)
        self.audit.record(
            "consent_given",
            "customer",
            choice=choice,
            subject=pseudonym(subject),
            notice_version=self._settings.notice_version,
        )
        return reference

    def _erase_subject(self, subject: str, actor: str, event: str) -> dict[str, Any]:
        deletion = self.store.erase(subject)
        copies = self._download_copies(pseudonym(subject))
        for path in copies:
            path.unlink(missing_ok=True)
        self._forget_caches()
        receipt = {
            "subject": pseudonym(subject),
            "erased_at": iso(),
            "messages_deleted": deletion.messages,
            "subject_key_destroyed": deletion.key_destroyed,
            "feedback_rows_deleted": deletion.feedback_rows,
            "handoff_tickets_deleted": deletion.tickets,
            "download_copies_deleted": len(copies),
            "places": {
                "conversation store": "messages, feedback and handoff tickets deleted; dead rows removed "
                "(SQLite secure_delete + WAL checkpoint, or PostgreSQL VACUUM)",
                "subject key store": "data key destroyed: any backup copy of the rows is unreadable",
                "download copies and web temp files": f"{len(copies)} file(s) deleted",
                "model caches": "prompt and state cache of the in-process model cleared",
                "application logs": "hold no message text or reference codes (by design, tested)",
                "audit trail": "keeps this receipt's pseudonym, never content",
            },
        }
        self.audit.record(
            event,
            actor,
            subject=receipt["subject"],
            messages_deleted=deletion.messages,
            subject_key_destroyed=deletion.key_destroyed,
            feedback_rows_deleted=deletion.feedback_rows,
            handoff_tickets_deleted=deletion.tickets,
            download_copies_deleted=len(copies),
        )
        return receipt

    def forget_erased_elsewhere(self) -> int:
        """Clear this process's model caches if another replica erased someone since the last call;
        how many erasures were new (replicas share the audit trail, so they see each other's)."""
        seen = self._erasures_seen
        if seen is None:  # first call: everything before now was handled where it happened
            self._erasures_seen = self.audit.head()[0]
            return 0
        newer = self.audit.entries_after(seen)
        if newer:
            self._erasures_seen = newer[-1]["seq"]
        erasures = sum(ERASURE_DETAIL in e.get("details", {}) for e in newer)
        if erasures:
            self._forget_caches()
        return erasures

    def _on_subject(self, code: str, change: Callable[[], None]) -> None:
        """Run a change of the subject's rows; a number that is not theirs becomes RequestError."""
        try:
            change()
        except UnknownSubject as exc:
            raise RequestError(str(exc)) from exc

    def _record_right(self, event: str, actor: str, code: str, **details: Any) -> None:
        self.audit.record(event, actor, subject=pseudonym(self.store.subject_id(code)), **details)

    def _download_copies(self, pseudonym: str) -> list[Path]:
        # Our own export files and the copies Gradio made of them in its cache (same file name).
        root = self._settings.temp_dir
        return [p for p in root.rglob(f"{EXPORT_PREFIX}{pseudonym}*") if p.is_file()] if root.exists() else []

    def known(self, reference: str) -> str:
        """The canonical reference code; ReferenceCodeError when malformed or not stored."""
        code = normalise_reference_code(reference)
        if code is None:
            raise ReferenceCodeError(
                "That is not a reference code: it has 16 letters and digits, like 7KQM-2XTP-9RWA-HC4D."
            )
        try:
            self.store.consent(code)
        except UnknownSubject as exc:
            raise ReferenceCodeError(
                "No stored conversation has this reference code (it may have been deleted already or "
                "expired after the retention period)."
            ) from exc
        return code


def open_data_subjects(settings: Settings, forget_caches: Callable[[], None] | None = None) -> DataSubjects:
    """The store, keys and audit trail of the configured data dir."""
    keyring = open_keyring(settings)
    store = ConversationStore(
        settings.conversation_store_url or sqlite_url(settings.store_path),
        settings.key_store_url or sqlite_url(settings.key_store_path),
        keyring,
        connect_args={"sslrootcert": str(settings.tls_ca_file)}
        if settings.tls_ca_file and settings.conversation_store_url
        else None,
    )
    # Replicas sharing a PostgreSQL store share one audit chain there too; one server keeps a file.
    shared = settings.conversation_store_url is not None
    audit = DatabaseAuditLog(store.engine) if shared else AuditLog(settings.audit_path)
    return DataSubjects(settings, store, audit, forget_caches)


def open_keyring(settings: Settings) -> Keyring:
    """The keyring of the configured master key (environment, or the key file created on first run)."""
    key_file = settings.master_key_file or settings.data_dir / "keys" / "master.key"
    secret = settings.master_key.get_secret_value() if settings.master_key else None
    return Keyring(load_master_key(key_file, secret))


def pseudonym(subject_id: str) -> str:
    return subject_id[:16]
