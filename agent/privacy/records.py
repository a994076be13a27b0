"""Privacy documents generated from the live configuration: the Art. 30 record and the customer page."""

from __future__ import annotations

import html

from agent.runtime.endpoints import parse_endpoint, without_password
from agent.settings import Settings


def processing_record(settings: Settings) -> str:
    """The record of processing activities (GDPR Art. 30(1)) for this installation, as Markdown."""
    optional = [settings.vector_store_url, settings.conversation_store_url, settings.key_store_url]
    remote = [*settings.inference_urls, *(url for url in optional if url)]
    recipients = (
        "None. Everything runs on this machine; no processor outside the controller receives data."
        if not remote
        else "Servers operated for the controller (inference, search, conversation store): "
        + ", ".join(
            f"{without_password(url)} (jurisdiction: {_jurisdiction(settings, url)})" for url in remote
        )
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
    rows = [
        ("Controller", settings.controller),
        ("Contact for data protection", settings.privacy_contact),
        ("Name of the processing", f"AI customer-support chat of {settings.company_name}"),
        (
            "Purposes",
            "Answering customers' support questions from the help center; with consent, keeping the "
            "conversation to handle follow-ups and to improve the help center.",
        ),
        (
            "Legal basis",
            "Consent, GDPR Art. 6(1)(a), asked before the first message; chatting without storing is "
            "always offered.",
        ),
        ("Categories of data subjects", "Customers and prospective customers using the chat."),
        (
            "Categories of personal data",
            "Chat messages after redaction (types removed before processing: "
            f"{', '.join(settings.redaction_types) or 'none'}); consent time and notice version; a random "
            "reference code (stored only as a keyed hash).",
        ),
        ("Recipients", recipients),
        (
            "Transfers to third countries",
            "None" if not remote else f"Allowed jurisdictions: {', '.join(settings.allowed_jurisdictions)}",
        ),
        (
            "Retention",
            f"{settings.retention_days} days after the last message; purged every "
            f"{settings.purge_interval_minutes} minutes by the server and by `support-agent privacy purge`.",
        ),
        (
            "Storage",
            f"Conversations: {conversations} (message text AES-256-GCM per subject); subject "
            f"keys: {keys}; master key: "
            f"{key_place}; "
            f"audit trail: {settings.audit_path}; temp files: {settings.temp_dir}.",
        ),
        (
            "Models (all run locally)",
            f"chat: {chat_model}; embeddings: {settings.embedding_model}.",
        ),
        (
            "Technical and organisational measures (Art. 32)",
            "Redaction before model, store and logs; encryption at rest with per-subject keys and "
            "crypto-shredding on erasure; SQLite secure_delete; no network egress except declared EU "
            "endpoints over TLS (in-process guard); security headers, no third-party assets; logs "
            "without message text; hash-chained audit trail; key files readable by the service user only; "
            "staff console with least-privilege roles, login lockout and a second factor (TOTP) for the "
            f"roles {', '.join(settings.staff_two_factor_roles) or '(none configured)'}.",
        ),
    ]
    lines = ["# Record of processing activities (GDPR Art. 30)", "", "| Item | Entry |", "|---|---|"]
    lines += [f"| {name} | {value.replace('|', '/')} |" for name, value in rows]
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
            "(Art. 17), Berichtigung (Art. 16), Einschränkung (Art. 18) und Widerruf Ihrer Einwilligung "
            "(Art. 7 Abs. 3) sowie auf Beschwerde bei einer Aufsichtsbehörde (Art. 77). Herunterladen und "
            "Löschen können Sie direkt im Chat unter „Meine Daten“ mit Ihrem Referenzcode.",
        ),
        (
            "en",
            "Privacy notice for the support chat",
            "You have the right of access (Art. 15), data portability (Art. 20), erasure (Art. 17), "
            "rectification (Art. 16), restriction (Art. 18), to withdraw your consent (Art. 7(3)) and to "
            "lodge a complaint with a supervisory authority (Art. 77). Download and delete your data "
            "directly in the chat under “My data” with your reference code.",
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


def _jurisdiction(settings: Settings, url: str) -> str:
    return settings.endpoint_jurisdictions.get(parse_endpoint(url).host, "loopback")
