"""The customer chat page: privacy notice and consent first, then streaming answers with their sources,
and the customer's own data rights (download, delete, withdraw) on the same page."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import gradio as gr

from agent.answering.assistant import Answer, Citation, SupportAgent
from agent.answering.language import detect_language
from agent.errors import AgentError, MessageError
from agent.privacy.crypto import normalise_reference_code
from agent.privacy.subjects import DataSubjects
from agent.settings import Settings
from agent.staff.helpdesk import notify_helpdesk

log = logging.getLogger(__name__)

ChatMessages = list[dict[str, Any]]
History = list[tuple[str, str]]
Session = dict[str, Any] | None  # {"store": bool, "reference": str | None}; None = no choice yet

_SOURCES_LABEL = {"de": "Quelle", "en": "Source"}
_SORRY = {
    "en": "Sorry, something went wrong on our side. Please try again in a moment.",
    "de": "Entschuldigung, bei uns ist etwas schiefgelaufen. Bitte versuchen Sie es gleich noch einmal.",
}
_CHOOSE_FIRST = (
    "Bitte wählen Sie zuerst oben, ob das Gespräch gespeichert werden darf. / "
    "Please choose above first whether we may keep the conversation."
)
_REDACTED = {
    "de": "🔒 Personenbezogene Daten wurden vor der Verarbeitung entfernt: {types}.",
    "en": "🔒 Personal data was removed before processing: {types}.",
}
_HANDOFF_HINT = {
    "de": "👉 Über „Mit einem Menschen sprechen“ unten geben Sie Ihre Frage an unser Team weiter.",
    "en": "👉 Use “Talk to a human” below to pass your question to our team.",
}
_READING = {"de": "🔎 Ich lese: {links} …", "en": "🔎 Reading: {links} …"}
_QUEUED = {
    "de": "⏳ Sie sind gleich dran – {ahead} Kunde(n) vor Ihnen.",
    "en": "⏳ You're next in line – {ahead} customer(s) ahead of you.",
}
_NOT_SAVED = {
    "de": "(Dieses Gespräch konnte gerade nicht gespeichert werden.)",
    "en": "(This conversation could not be saved just now.)",
}


def format_answer(answer: Answer) -> str:
    """The answer as Markdown, with its source articles as links underneath."""
    if not answer.citations:
        return answer.text
    label = _SOURCES_LABEL.get(answer.language, "Source")
    links = " · ".join(_link(c) for c in answer.citations)
    return f"{answer.text}\n\n*{label}: {links}*"


def _link(citation: Citation) -> str:
    title = citation.title.replace("[", "(").replace("]", ")")
    return f"[{title}]({citation.url})" if citation.url else title


def respond(
    agent: SupportAgent,
    settings: Settings,
    subjects: DataSubjects,
    message: str,
    chat: ChatMessages | None,
    history: History | None,
    session: Session,
) -> Iterator[tuple[str, ChatMessages, History]]:
    """One chat turn: yields (cleared input box, chat messages, history) while the answer streams.

    Nothing is processed before the customer has made their consent choice; only the redacted
    question is shown, answered, kept in the history and (with consent) stored.
    """
    chat = list(chat or [])
    history = list(history or [])
    if not session:
        chat.append({"role": "assistant", "content": _CHOOSE_FIRST})
        yield message, chat, history
        return
    chat.append({"role": "user", "content": "…"})
    chat.append({"role": "assistant", "content": ""})
    answer = None
    try:
        for answer in agent.stream(message, history):
            chat[-2] = {"role": "user", "content": answer.question}
            chat[-1] = {"role": "assistant", "content": _shown(answer)}
            yield "", chat, history
    except MessageError as exc:
        chat[-2] = {"role": "user", "content": "…"}
        chat[-1] = {"role": "assistant", "content": str(exc)}
    except AgentError as exc:
        # Never the message text in logs: only what kind of failure it was.
        log.error("chat turn failed: %s", type(exc).__name__)
        chat[-1] = {"role": "assistant", "content": _apology(settings, history)}
    except Exception:
        log.exception("chat turn failed unexpectedly")
        chat[-1] = {"role": "assistant", "content": _apology(settings, history)}
    if answer is not None and answer.done:
        history.append((answer.question, answer.text))
        log.info(
            "answered: refused=%s language=%s sources=%d redacted=%s stored=%s total_s=%s",
            answer.refused,
            answer.language,
            len(answer.citations),
            ",".join(f"{k}:{v}" for k, v in sorted(answer.redacted.items())) or "-",
            bool(session.get("store")),
            answer.timings.get("total_s"),
        )
        if session.get("store") and not _stored(subjects, session["reference"], answer):
            chat[-1] = {"role": "assistant", "content": f"{_shown(answer)}\n\n{_NOT_SAVED[_lang(answer)]}"}
    yield "", chat, history


def _shown(answer: Answer) -> str:
    text = format_answer(answer) if answer.done else answer.text
    if not answer.done and not text and answer.reading:
        text = _READING[_lang(answer)].format(links=" · ".join(_link(c) for c in answer.reading))
        if answer.queued:
            text = f"{text}\n\n{_QUEUED[_lang(answer)].format(ahead=answer.queued)}"
    if answer.done and answer.refused:
        text = f"{text}\n\n{_HANDOFF_HINT[_lang(answer)]}"
    if answer.redacted:
        note = _REDACTED[_lang(answer)].format(types=", ".join(f"[{t}]" for t in sorted(answer.redacted)))
        text = f"{note}\n\n{text}"
    return text


def _stored(subjects: DataSubjects, reference: str, answer: Answer) -> bool:
    try:
        subjects.remember(
            reference, answer.question, answer.text, refused=answer.refused, redacted=answer.redacted
        )
        return True
    except AgentError as exc:
        log.error("could not store a chat turn: %s", type(exc).__name__)
        return False


def _lang(answer: Answer) -> str:
    return "de" if answer.language == "de" else "en"


def _apology(settings: Settings, history: History) -> str:
    language = detect_language(history[-1][0]) if history else "en"
    return f"{_SORRY.get(language, _SORRY['en'])}\n\n{settings.handoff_text(language)}"


def notice_markdown(settings: Settings) -> str:
    """The short privacy notice in German and English, with a link to the full privacy page."""
    return (
        f"🤖 **{settings.ai_notice_de}**\n\n{settings.privacy_notice('de')} "
        f"[Datenschutzhinweise](/privacy)\n\n---\n\n"
        f"🤖 **{settings.ai_notice_en}**\n\n{settings.privacy_notice('en')} [Privacy notice](/privacy)"
    )


def build_chat(agent: SupportAgent, settings: Settings, subjects: DataSubjects) -> gr.Blocks:
    """The chat page. Per-customer state lives in the browser session (gr.State), never on this object."""
    with gr.Blocks(
        title=f"{settings.company_name} – Hilfe / Help",
        analytics_enabled=False,
        delete_cache=(3600, 3600),  # Gradio's copies of downloads go after an hour at the latest
    ) as page:
        session = gr.State(None)
        history = gr.State([])
        gr.Markdown(f"## {settings.company_name} – Hilfe / Help")
        with gr.Column(visible=True, elem_id="consent") as consent_panel:
            gr.Markdown(notice_markdown(settings), elem_id="ai-notice")
            with gr.Row():
                keep = gr.Button(
                    "Chatten und Gespräch speichern / Chat and keep my conversation", elem_id="consent-store"
                )
                dont_keep = gr.Button(
                    "Chatten ohne Speicherung / Chat without storing anything",
                    variant="primary",
                    elem_id="consent-none",
                )
        with gr.Column(visible=False, elem_id="chat-area") as chat_panel:
            status = gr.Markdown("", elem_id="privacy-status")
            chatbot = gr.Chatbot(label="Chat", elem_id="chat", height=460, buttons=["copy"])
            with gr.Row():
                box = gr.Textbox(
                    placeholder="Ihre Frage … / Your question …",
                    show_label=False,
                    scale=5,
                    max_lines=6,
                    elem_id="question",
                )
                send = gr.Button("Senden / Send", variant="primary", scale=1, elem_id="send")
            gr.Examples(
                examples=[[q] for q in settings.example_questions], inputs=[box], label="Beispiele / Examples"
            )
            with gr.Row():
                thumbs_up = gr.Button("👍 Hilfreich / Helpful", size="sm", elem_id="rate-up")
                thumbs_down = gr.Button("👎 Nicht hilfreich / Not helpful", size="sm", elem_id="rate-down")
                human = gr.Button(
                    "🙋 Mit einem Menschen sprechen / Talk to a human", size="sm", elem_id="human"
                )
            rating_status = gr.Markdown("", elem_id="rating-status")
            with gr.Column(visible=False, elem_id="handoff") as handoff_panel:
                contact = gr.Textbox(
                    label="Wie erreichen wir Sie? / How can we reach you? (E-Mail / Telefon / phone)",
                    elem_id="handoff-contact",
                )
                agreed = gr.Checkbox(
                    label="Ich bin einverstanden, dass dieses Gespräch und meine Kontaktangabe an das "
                    "Support-Team gehen, um mir zu antworten. / I agree that this conversation and my "
                    "contact go to the support team so they can answer me.",
                    elem_id="handoff-consent",
                )
                send_ticket = gr.Button("An das Team senden / Send to the team", elem_id="handoff-send")
                handoff_status = gr.Markdown("", elem_id="handoff-status")
            withdraw = gr.Button("Einwilligung widerrufen / Withdraw consent", size="sm", elem_id="withdraw")
        with gr.Accordion("Meine Daten / My data", open=False, elem_id="my-data"):
            gr.Markdown(
                "Mit Ihrem Referenzcode können Sie Ihr gespeichertes Gespräch herunterladen oder löschen. / "
                "With your reference code you can download or delete your stored conversation."
            )
            code = gr.Textbox(label="Referenzcode / Reference code", elem_id="reference-code")
            with gr.Row():
                download = gr.Button("Herunterladen / Download", elem_id="download-data")
                delete = gr.Button("Löschen / Delete", variant="stop", elem_id="delete-data")
            rights_status = gr.Markdown("", elem_id="rights-status")
            data_file = gr.File(label="JSON", interactive=False, elem_id="data-file")

        consent_outputs = [session, consent_panel, chat_panel, status, code, chatbot, history]

        def choose_store() -> tuple[Any, ...]:
            reference = subjects.consent_to_store()
            note = (
                f"💾 Ihr Gespräch wird gespeichert. Ihr Referenzcode / your reference code: "
                f"**`{reference}`** – notieren Sie ihn, um Ihre Daten herunterzuladen oder zu löschen. / "
                f"Keep it to download or delete your data."
            )
            return _opened({"store": True, "reference": reference}, note, reference)

        def choose_no_store() -> tuple[Any, ...]:
            subjects.consent_without_storing()
            note = "🚫 Es wird nichts gespeichert. / Nothing is stored."
            return _opened({"store": False, "reference": None}, note, "")

        def withdraw_consent(current: Session) -> tuple[Any, ...]:
            if current and current.get("store"):
                subjects.withdraw(current["reference"])
            elif current:
                subjects.withdraw_without_storing()
            return _closed()

        def turn(
            message: str, chat: ChatMessages, past: History, current: Session
        ) -> Iterator[tuple[str, ChatMessages, History]]:
            yield from respond(agent, settings, subjects, message, chat, past, current)

        def download_data(reference: str) -> tuple[str, str | None]:
            try:
                path = subjects.export_file(reference, actor="customer")
            except AgentError as exc:
                return f"⚠️ {exc}", None
            return "✅ Ihre Daten / your data (JSON):", str(path)

        def delete_data(reference: str, current: Session) -> tuple[Any, ...]:
            try:
                receipt = subjects.erase(reference, actor="customer")
            except AgentError as exc:
                return f"⚠️ {exc}", None, *_unchanged(len(consent_outputs))
            text = (
                f"✅ Gelöscht / Deleted: {receipt['messages_deleted']} Nachrichten / messages, "
                f"{receipt['erased_at']}. Schlüssel vernichtet / key destroyed: "
                f"{'ja / yes' if receipt['subject_key_destroyed'] else 'nein / no'}."
            )
            if current and current.get("reference") == normalise_reference_code(reference):
                return text, None, *_closed()  # their own conversation is gone: ask for consent again
            return text, None, *_unchanged(len(consent_outputs))

        def rate(past: History, current: Session, helpful: bool) -> str:
            return rate_last_answer(subjects, past, current, helpful)

        def ticket(
            contact_text: str, agreed_to: bool, past: History, current: Session
        ) -> tuple[str, Session]:
            return hand_off(subjects, settings, contact_text, agreed_to, past, current)

        thumbs_up.click(
            lambda p, c: rate(p, c, True), [history, session], [rating_status], api_name="rate_up"
        )
        thumbs_down.click(
            lambda p, c: rate(p, c, False), [history, session], [rating_status], api_name="rate_down"
        )
        human.click(lambda: gr.Column(visible=True), None, [handoff_panel], api_visibility="private")
        send_ticket.click(
            ticket, [contact, agreed, history, session], [handoff_status, session], api_name="handoff"
        )
        keep.click(choose_store, None, consent_outputs, api_name="consent_store")
        dont_keep.click(choose_no_store, None, consent_outputs, api_name="consent_none")
        withdraw.click(withdraw_consent, [session], consent_outputs, api_name="withdraw")
        box.submit(turn, [box, chatbot, history, session], [box, chatbot, history], api_name="chat")
        send.click(turn, [box, chatbot, history, session], [box, chatbot, history], api_visibility="private")
        download.click(download_data, [code], [rights_status, data_file], api_name="download_my_data")
        delete.click(
            delete_data,
            [code, session],
            [rights_status, data_file, *consent_outputs],
            api_name="delete_my_data",
        )
    return page


def rate_last_answer(subjects: DataSubjects, history: History, session: Session, helpful: bool) -> str:
    """Thumbs up/down on the last answer; kept only for customers who chose to keep their conversation."""
    if not session or not history:
        return "Noch keine Antwort zum Bewerten. / No answer to rate yet."
    if session.get("store"):
        try:
            subjects.rate(session["reference"], history[-1][0], helpful)
        except AgentError as exc:
            log.error("could not store a rating: %s", type(exc).__name__)
    return "Danke für Ihre Rückmeldung! / Thank you for your feedback!"


def hand_off(
    subjects: DataSubjects, settings: Settings, contact: str, agreed: bool, history: History, session: Session
) -> tuple[str, Session]:
    """Open a ticket for a human with the (redacted) transcript and the contact the customer left."""
    if not session:
        return _CHOOSE_FIRST, session
    contact = (contact or "").strip()[:200]
    if not contact:
        return "Bitte geben Sie an, wie wir Sie erreichen. / Please tell us how to reach you.", session
    if not agreed:
        return (
            "Bitte bestätigen Sie, dass wir Gespräch und Kontakt dafür verwenden dürfen. / "
            "Please confirm that we may use the conversation and your contact for this."
        ), session
    transcript = "\n\n".join(f"Kunde/Customer: {q}\nAssistent/Assistant: {a}" for q, a in history) or "(–)"
    try:
        number, reference = subjects.open_ticket(session.get("reference"), transcript, contact)
    except AgentError as exc:
        log.error("could not open a handoff ticket: %s", type(exc).__name__)
        return _SORRY["en"], session
    notify_helpdesk(settings, subjects, number, transcript, contact)
    session = {**session, "reference": reference}  # the ticket can be downloaded or deleted with it
    return (
        f"✅ Ticket **#{number}** ist bei unserem Team / is with our team. Referenzcode / reference code: "
        f"**`{reference}`**"
    ), session


def _opened(session: Session, note: str, reference: str) -> tuple[Any, ...]:
    return session, gr.Column(visible=False), gr.Column(visible=True), note, reference, [], []


def _closed() -> tuple[Any, ...]:
    return None, gr.Column(visible=True), gr.Column(visible=False), "", "", [], []


def _unchanged(count: int) -> tuple[Any, ...]:
    return tuple(gr.skip() for _ in range(count))
