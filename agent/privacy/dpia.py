"""Inputs for the data protection impact assessment (GDPR Art. 35), drafted from the live configuration.

The draft describes the processing as configured, argues necessity and proportionality, lists the
risks (some only appear with a configuration that causes them) and the measures against them, each
with the tests in tests/ that fail when the measure stops working. The privacy officer completes and
signs the assessment; this is its factual basis, not the assessment itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.privacy.records import recipients, retention_text
from agent.privacy.redaction import REDACTION_TYPES
from agent.settings import Settings


@dataclass(frozen=True)
class Measure:
    """A technical or organisational measure and the tests that prove it (`tests/file.py::name`)."""

    name: str
    how: str
    tests: tuple[str, ...]


MEASURES: tuple[Measure, ...] = (
    Measure(
        "Consent before processing",
        "the chat answers nothing until the customer chose to keep or not to keep the conversation; "
        "chatting without storing is always offered and stores no row",
        (
            "tests/test_privacy_chat.py::test_consent_is_required_before_the_first_answer",
            "tests/test_privacy_chat.py::test_chat_without_storing_writes_no_row",
        ),
    ),
    Measure(
        "Data minimisation by redaction",
        "personal data is replaced by typed placeholders before retrieval, the model, the store and logs",
        (
            "tests/test_redaction.py::test_corpus",
            "tests/test_privacy_chat.py::test_personal_data_is_redacted_before_model_store_and_page",
        ),
    ),
    Measure(
        "Special categories held back",
        "a message with likely health, religion, union, orientation or ethnicity data reaches nothing until "
        "the customer sends it anyway (explicit consent, audited) or rephrases it",
        (
            "tests/test_special_categories.py::test_a_health_message_is_held_counted_and_given_back_to_rephrase",
            "tests/test_special_categories.py::test_send_anyway_answers_stores_and_records_the_explicit_consent",
        ),
    ),
    Measure(
        "Encryption at rest, crypto-shredding",
        "message text, feedback and tickets sealed with AES-256-GCM under a key per customer; erasure "
        "destroys the key, so earlier backups become unreadable",
        (
            "tests/test_conversations.py::test_message_text_is_encrypted_at_rest",
            "tests/test_conversations.py::test_erasure_shreds_backups_too",
            "tests/test_conversations.py::test_erased_rows_are_zeroed_not_left_in_free_pages",
        ),
    ),
    Measure(
        "Erasure everywhere (Art. 17), withdrawal in one click",
        "erasure reaches store rows, the key, download copies, temp files and the model's prompt state",
        (
            "tests/test_privacy_chat.py::test_erasure_canary_leaves_no_trace",
            "tests/test_privacy_chat.py::test_withdrawing_consent_is_one_click_and_erases",
        ),
    ),
    Measure(
        "Rectification, restriction, objection (Art. 16, 18, 21)",
        "customers correct, restrict or object under My data with their reference code; staff on the "
        "command line; each audited",
        (
            "tests/test_privacy_chat.py::test_rectify_restrict_and_object_from_my_data",
            "tests/test_privacy_chat.py::test_cli_rectify_restrict_and_object",
        ),
    ),
    Measure(
        "Restored backups do not bring erased customers back",
        "every erasure recorded after the backup is replayed on the restored copy before it goes live",
        (
            "tests/test_backup.py::test_erased_after_the_backup_stays_erased_after_restore",
            "tests/test_audit.py::test_a_copy_of_a_pruned_trail_verifies",
        ),
    ),
    Measure(
        "Retention per category",
        "conversations, tickets, feedback, simulation files and the audit trail each deleted after their "
        "own period by the scheduled purge",
        (
            "tests/test_retention.py::test_each_category_is_purged_at_its_own_period_and_not_before",
            "tests/test_retention.py::test_simulation_uploads_and_reports_are_purged_after_their_period",
            "tests/test_privacy_chat.py::test_server_purges_expired_conversations_on_a_schedule",
        ),
    ),
    Measure(
        "No egress except declared endpoints",
        "an in-process guard refuses every connection but loopback and the declared endpoints (allowed "
        "jurisdiction, TLS); undeclared or non-EU endpoints stop the start",
        (
            "tests/test_egress.py::test_guard_blocks_sockets_and_http_clients_but_not_loopback",
            "tests/test_egress.py::test_answering_works_with_no_network_and_nothing_tries_to_leave",
            "tests/test_remote_backends.py::test_undeclared_non_eu_or_plain_http_endpoints_are_refused_at_start",
        ),
    ),
    Measure(
        "No message text in logs",
        "logs carry counts and types, never message text or reference codes",
        ("tests/test_ui.py::test_chat_logs_carry_no_message_text",),
    ),
    Measure(
        "Tamper-evident audit trail",
        "hash-chained entries and a head file; pruned entries summed up in a checkpoint that is sealed "
        "into the chain",
        (
            "tests/test_audit.py::test_edited_entry_is_detected",
            "tests/test_audit.py::test_cut_off_tail_is_detected",
            "tests/test_audit.py::test_pruned_trail_verifies_and_edits_after_pruning_are_detected",
            "tests/test_audit.py::test_an_edited_or_removed_checkpoint_is_detected",
        ),
    ),
    Measure(
        "Breach evidence and security alerts (Art. 33)",
        "`privacy incident` prints the facts of a period without content; the server alerts on a broken "
        "audit chain, blocked egress and failed-login or export spikes",
        (
            "tests/test_incidents.py::test_incident_report_counts_subjects_and_evidence_without_content",
            "tests/test_incidents.py::test_security_alerts_reach_the_webhook_once_per_occurrence",
        ),
    ),
    Measure(
        "Answers only from published articles, a human on request",
        "internal and draft articles never reach customers; unsupported sentences are removed; an "
        "uncovered question gets the way to a human instead of an invented answer",
        (
            "tests/test_answering.py::test_internal_and_draft_articles_never_reach_customers",
            "tests/test_guard.py::test_planted_invention_is_removed",
            "tests/test_answering.py::test_out_of_scope_is_refused_without_calling_the_model",
        ),
    ),
    Measure(
        "Page security",
        "security headers, no third-party assets, the page talks only to its own origin",
        ("tests/test_ui.py::test_page_is_served_with_security_headers_and_no_third_party_assets",),
    ),
    Measure(
        "Staff access by role",
        "staff log in; each role can call only its own actions; failed logins lock the account; the "
        "roles in staff_two_factor_roles also need a TOTP or single-use recovery code (secrets sealed "
        "under the master key); every action is audited",
        (
            "tests/test_console.py::test_each_role_can_call_only_its_own_actions",
            "tests/test_console.py::test_login_wrong_password_and_lockout",
            "tests/test_console.py::test_two_factor_login_through_the_login_pages",
            "tests/test_two_factor.py::test_wrong_codes_count_towards_the_lockout_and_are_audited",
            "tests/test_two_factor.py::test_the_secret_and_recovery_codes_are_not_stored_in_plain_text",
        ),
    ),
    Measure(
        "Records from the live configuration",
        "the Art. 30 record and the subprocessor list name every endpoint the egress guard allows",
        ("tests/test_records.py::test_record_names_every_allowed_endpoint_with_its_jurisdiction",),
    ),
)


def dpia_draft(settings: Settings) -> str:
    """The DPIA inputs for this installation, as Markdown."""
    found = recipients(settings)
    remote = [r for r in found if r.remote]
    chat_model = (
        f"{settings.inference_model} on the inference servers"
        if settings.inference_urls
        else f"{settings.chat_model} in this process"
    )
    lines = [
        "# Data protection impact assessment (GDPR Art. 35): inputs",
        "",
        f"Drafted by `support-agent privacy dpia` from the live configuration of {settings.company_name}. "
        "To be completed, assessed and signed by the controller.",
        "",
        "## 1. Processing",
        "",
        f"- Controller: {settings.controller}; contact: {settings.privacy_contact}.",
        "- What: an AI chat answers customers' support questions from the published help-center articles "
        f"(chat model: {chat_model}; embeddings: {settings.embedding_model}); customers may hand the "
        "conversation to a human by leaving a contact.",
        "- Data subjects: customers and prospective customers using the chat.",
        "- Data: chat messages after redaction; consent time and notice version; feedback; handoff tickets "
        "with the contact the customer left (as given) and the redacted transcript.",
        "- Where: conversations in "
        + (
            "PostgreSQL (`conversation_store_url`)"
            if settings.conversation_store_url
            else f"SQLite under {settings.data_dir}"
        )
        + "; recipients: "
        + ("; ".join(f"{r.role} {r.url} ({r.jurisdiction})" for r in found) or "none")
        + ".",
        f"- Retention: {retention_text(settings)}",
        "",
        "## 2. Necessity and proportionality",
        "",
        "- Legal basis: consent (Art. 6(1)(a)), asked before the first message; chatting without storing "
        "anything is always offered and works the same.",
        "- Minimisation: redaction of "
        + (", ".join(settings.redaction_types) or "nothing")
        + " before anything else sees a message; stored only with consent; each category deleted after "
        "its own period (section 1).",
        "- No profiling and no automated decision with legal effect: the bot answers only from published "
        "articles and offers a human.",
        "- Rights: customers download, correct, restrict, object to and erase their data themselves with "
        "their reference code; withdrawal is one click.",
        "",
        "## 3. Risks",
        "",
        "| risk | source | measures (section 4) |",
        "|---|---|---|",
        "| Personal data the redactor does not recognise is stored | free text (names without an "
        "introduction, free-form addresses, dates of birth, own customer numbers) | encryption at rest, "
        "retention per category, erasure |",
        "| Contact data of a handoff is kept unredacted | needed for the reply | encryption at rest, "
        f"deleted {settings.ticket_retention_days} days after the ticket is done, erasure |",
        "| Stolen disk or backup | the data dir | encryption at rest, crypto-shredding, subject keys in "
        "backups only encrypted under a passphrase, the master key never |",
        "| Attacker with the service user's rights | the master key is on the same machine | operating "
        "system hardening (outside this software); tamper-evident audit trail |",
        "| Wrong or invented answers | the language model | answers only from published articles, a human "
        "on request |",
        "| A restored backup brings back erased customers | backups of the data dir | restored backups do "
        "not bring erased customers back; retention per category |",
        "| Audit trail rewritten as a whole | the chain is not keyed | anchor the head printed by "
        "`support-agent audit verify` outside the machine |",
    ]
    disabled = [t for t in REDACTION_TYPES if t not in settings.redaction_types]
    if disabled:
        lines.append(
            f"| Redaction of {', '.join(disabled)} is switched off | `redaction_types` | "
            "encryption at rest, retention per category |"
        )
    if remote:
        lines.append(
            "| Data on machines of a processor: "
            + ", ".join(f"{r.host} ({r.jurisdiction})" for r in remote)
            + " | the remote endpoints configured | no egress except declared endpoints (allowed "
            "jurisdiction, TLS); data-processing agreement (`support-agent privacy subprocessors`) |"
        )
    if settings.handoff_webhook_url:
        lines.append(
            "| Tickets with contact data in the helpdesk, under its own retention | `handoff_webhook_url` | "
            "the helpdesk's own retention and agreement; no egress except declared endpoints |"
        )
    lines += [
        "",
        "## 4. Measures and the tests that prove them",
        "",
        "Each test fails when its measure stops working (`make test`).",
        "",
        "| measure | how | tests |",
        "|---|---|---|",
    ]
    lines += [f"| {m.name} | {m.how} | {', '.join(f'`{t}`' for t in m.tests)} |" for m in MEASURES]
    return "\n".join(lines) + "\n"
