"""Privacy documents generated from the live configuration: the Art. 30 record, the DPIA draft, the
subprocessor list and the customer page.

Every remote endpoint the egress guard lets through (`Settings.egress_allowlist`) is a recipient here,
with the jurisdiction declared for it; a test checks that the two never drift apart.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from agent.runtime.endpoints import parse_endpoint, without_password
from agent.settings import Settings

LOOPBACK = "this machine (loopback)"


@dataclass(frozen=True)
class Recipient:
    """One configured endpoint that receives personal data (or keys to it), as the records name it."""

    role: str
    setting: str
    url: str  # without password
    host: str
    jurisdiction: str
    provider: str
    data: str

    @property
    def remote(self) -> bool:
        """True when the endpoint is on another machine (a processor or another site of yours)."""
        return self.jurisdiction != LOOPBACK


def recipients(settings: Settings) -> list[Recipient]:
    """Every configured endpoint, in the order of the settings, with what it receives."""
    configured: list[tuple[str, str, str, str]] = [
        (
            url,
            "inference_urls",
            "Inference server (answers)",
            "redacted questions, earlier turns of the same chat and the article passages (the prompt); "
            "returns the answer",
        )
        for url in settings.inference_urls
    ]
    optional = [
        (
            settings.vector_store_url,
            "vector_store_url",
            "Chroma search server",
            "article passages and embeddings of the redacted questions (search queries)",
        ),
        (
            settings.conversation_store_url,
            "conversation_store_url",
            "PostgreSQL conversation store",
            "sealed (AES-256-GCM) messages, feedback and handoff tickets, consent records, staff accounts",
        ),
        (
            settings.key_store_url,
            "key_store_url",
            "PostgreSQL key store",
            "per-subject data keys, wrapped by the master key",
        ),
        (
            settings.handoff_webhook_url,
            "handoff_webhook_url",
            "Helpdesk (handoff webhook)",
            "each new handoff ticket: number, redacted transcript and the contact the customer left "
            "(unredacted, for the reply)",
        ),
    ]
    optional.append(
        (
            settings.alert_webhook_url,
            "alert_webhook_url",
            "Security alert receiver",
            "security alerts: kind, time and counts (no personal data)",
        )
    )
    configured += [(url, setting, role, data) for url, setting, role, data in optional if url]
    configured += [
        (
            entry.source,
            "import_sources",
            "Help-center website or helpdesk API being imported",
            "nothing personal: the importer only reads help-center articles (GET requests)",
        )
        for entry in settings.import_sources
        if entry.is_website
    ]
    out = []
    for url, setting, role, data in configured:
        endpoint = parse_endpoint(url)
        jurisdiction = (
            LOOPBACK
            if endpoint.loopback
            else settings.endpoint_jurisdictions.get(endpoint.host, "undeclared")
        )
        provider = (
            "the controller (this machine)"
            if endpoint.loopback
            else settings.endpoint_providers.get(endpoint.host, "not declared (set endpoint_providers)")
        )
        out.append(
            Recipient(role, setting, without_password(url), endpoint.host, jurisdiction, provider, data)
        )
    return out


def retention_text(settings: Settings) -> str:
    """Each category's retention period, in one line for the records."""
    return (
        f"conversations: {settings.retention_days} days after the last message; "
        f"handoff tickets: {settings.ticket_retention_days} days after they are marked done (open tickets "
        "are kept until done); "
        f"feedback and unanswered questions: {settings.feedback_retention_days} days; "
        f"simulation uploads and reports: {settings.simulation_retention_days} days; "
        f"anonymous answer statistics (counts per day, no person): {settings.statistics_retention_days} "
        "days; "
        f"audit trail: {settings.audit_retention_days} days (older entries pruned behind a verifiable "
        "checkpoint); download copies of an export: 1 hour. Purged every "
        f"{settings.purge_interval_minutes} minutes by the server and by `support-agent privacy purge`."
    )


def processing_record(settings: Settings) -> str:
    """The record of processing activities (GDPR Art. 30(1)) for this installation, as Markdown."""
    found = recipients(settings)
    remote = [r for r in found if r.remote]
    recipient_text = (
        "None. Everything runs on this machine; no processor outside the controller receives data."
        if not found
        else "; ".join(
            f"{r.role}: {r.url} (jurisdiction: {r.jurisdiction}; operated by: {r.provider}; "
            f"receives: {r.data})"
            for r in found
        )
    )
    if not settings.handoff_webhook_url:
        recipient_text += (
            " Handoff tickets stay in the staff console (no helpdesk webhook configured); the support staff "
            "of the controller read them."
        )
    audit_place = (
        "the conversation database (one chain for every replica)"
        if settings.conversation_store_url
        else str(settings.audit_path)
    )
    key_place = (
        "SUPPORT_AGENT_MASTER_KEY"
        if settings.master_key
        else str(settings.master_key_file or settings.data_dir / "keys" / "master.key")
    )
    chat_model = (
        f"{settings.inference_model} via the inference servers"
        if settings.inference_urls
        else settings.chat_model
    )
    conversations = without_password(settings.conversation_store_url or f"{settings.store_path} (SQLite)")
    keys = without_password(settings.key_store_url or f"{settings.key_store_path} (SQLite)")
    jurisdictions = sorted({r.jurisdiction for r in remote})
    rows = [
        ("Controller", settings.controller),
        ("Contact for data protection", settings.privacy_contact),
        ("Name of the processing", f"AI customer-support chat of {settings.company_name}"),
        (
            "Purposes",
            "Answering customers' support questions from the help center; with consent, keeping the "
            "conversation to handle follow-ups and to improve the help center; handing a conversation to "
            "a human on the customer's request.",
        ),
        (
            "Legal basis",
            "Consent, GDPR Art. 6(1)(a), asked before the first message; chatting without storing is "
            "always offered. Leaving a contact for a handoff is the customer's request to be contacted "
            "(Art. 6(1)(a) and (b)).",
        ),
        ("Categories of data subjects", "Customers and prospective customers using the chat."),
        (
            "Categories of personal data",
            "Chat messages after redaction (types removed before processing: "
            f"{', '.join(settings.redaction_types) or 'none'}); consent time and notice version; a random "
            "reference code (stored only as a keyed hash); feedback (ratings, unanswered questions, "
            "redacted); handoff contact data: the e-mail address or phone number a customer leaves for a "
            "human's reply (kept as given, encrypted), with the redacted transcript. "
            + (
                "Special categories (Art. 9): not sought; a message that likely contains them is held back "
                "and processed only when the customer sends it anyway (explicit consent, Art. 9(2)(a), "
                "audited without the text)."
                if settings.special_category_warning
                else "Special categories (Art. 9): the warning is switched off; such data may be processed "
                "if customers send it."
            ),
        ),
        ("Recipients", recipient_text),
        (
            "Transfers to third countries",
            "None: nothing leaves this machine"
            if not remote
            else f"Declared jurisdictions of the recipients: {', '.join(jurisdictions)} (allowed: "
            f"{', '.join(settings.allowed_jurisdictions)}); no other host is reachable (egress guard).",
        ),
        ("Retention", retention_text(settings)),
        (
            "Storage",
            f"Conversations: {conversations} (message text AES-256-GCM per subject); subject "
            f"keys: {keys}; master key: "
            f"{key_place}; "
            f"audit trail: {audit_place}; temp files: {settings.temp_dir}.",
        ),
        (
            "Models",
            f"chat: {chat_model}; embeddings: {settings.embedding_model} (in this process).",
        ),
        (
            "Technical and organisational measures (Art. 32)",
            "Redaction before model, store and logs; encryption at rest with per-subject keys and "
            "crypto-shredding on erasure; SQLite secure_delete; no network egress except the declared "
            "endpoints above over TLS (in-process guard); security headers, no third-party assets; logs "
            "without message text; hash-chained audit trail; key files readable by the service user only; "
            "retention per category; staff console with least-privilege roles, login lockout and a second "
            f"factor (TOTP) for the roles {', '.join(settings.staff_two_factor_roles) or '(none)'}. "
            "`support-agent privacy dpia` names the test behind each measure.",
        ),
    ]
    lines = ["# Record of processing activities (GDPR Art. 30)", "", "| Item | Entry |", "|---|---|"]
    lines += [f"| {name} | {_cell(value)} |" for name, value in rows]
    return "\n".join(lines) + "\n"


def subprocessor_list(settings: Settings) -> str:
    """The processors that receive personal data, for the data-processing agreement (Art. 28), as Markdown."""
    remote = [r for r in recipients(settings) if r.remote]
    lines = [
        "# Subprocessors (GDPR Art. 28)",
        "",
        f"Controller: {settings.controller}. Generated from the live configuration: every remote host the "
        "egress guard allows. Hosts on this machine are not listed.",
        "",
    ]
    if not remote:
        return "\n".join([*lines, "None: no personal data leaves this machine.", ""])
    lines += [
        "| Service | Host | Operated by | Jurisdiction | Data received | Setting |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.role} | {r.host} | {_cell(r.provider)} | {r.jurisdiction} | {_cell(r.data)} | `{r.setting}` |"
        for r in remote
    ]
    return "\n".join(lines) + "\n"


def privacy_page_html(settings: Settings) -> str:
    """The full privacy notice customers reach from the chat (German and English)."""
    e = html.escape
    sections = []
    for lang, title, rights in (
        (
            "de",
            "Datenschutzhinweise zum Support-Chat",
            "Sie haben das Recht auf Auskunft (Art. 15), Datenübertragbarkeit (Art. 20), Löschung "
            "(Art. 17), Berichtigung (Art. 16), Einschränkung der Verarbeitung (Art. 18), Widerspruch gegen "
            "die Verwendung zur Verbesserung unserer Hilfe-Artikel (Art. 21) und Widerruf Ihrer Einwilligung "
            "(Art. 7 Abs. 3) sowie auf Beschwerde bei einer Aufsichtsbehörde (Art. 77). Herunterladen, "
            "Berichtigen, Einschränken, Widersprechen und Löschen können Sie direkt im Chat unter „Meine "
            "Daten“ mit Ihrem Referenzcode. Wie gut der Chat hilft, zählen wir anonym (Tag, beantwortet "
            "oder nicht, Antwortzeit, zitierter Artikel, Sprache, 👍/👎, Übergaben – ohne Text und ohne "
            "Bezug zu Ihnen); nicht, solange Sie die Verarbeitung eingeschränkt oder widersprochen haben.",
        ),
        (
            "en",
            "Privacy notice for the support chat",
            "You have the right of access (Art. 15), data portability (Art. 20), erasure (Art. 17), "
            "rectification (Art. 16), restriction of processing (Art. 18), to object to the use of your "
            "conversation for improving our help articles (Art. 21), to withdraw your consent (Art. 7(3)) "
            "and to lodge a complaint with a supervisory authority (Art. 77). Download, correct, restrict, "
            "object and delete directly in the chat under “My data” with your reference code. We count "
            "how well the chat helps anonymously (day, answered or not, answer time, cited article, "
            "language, 👍/👎, handoffs – no text and nothing linked to you); not while you restrict "
            "processing or object.",
        ),
    ):
        sections.append(
            f'<section lang="{lang}"><h2>{e(title)}</h2>'
            f"<p><strong>{e(settings.ai_notice(lang))}</strong></p>"
            f"<p>{e(settings.privacy_notice(lang))}</p>"
            f"<p>{e(rights)}</p>"
            f"<p>{'Verantwortlicher' if lang == 'de' else 'Controller'}: {e(settings.controller)} · "
            f"{'Kontakt' if lang == 'de' else 'Contact'}: {e(settings.privacy_contact)} · "
            f"{'Version' if lang == 'de' else 'Version'}: {e(settings.notice_version)}</p></section>"
        )
    return (
        '<!doctype html><html><head><meta charset="utf-8"><title>Datenschutz / Privacy</title>'
        "<style>body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;"
        "line-height:1.5}</style></head><body>"
        + "".join(sections)
        + '<p><a href="/">Chat</a></p></body></html>'
    )


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "/")
