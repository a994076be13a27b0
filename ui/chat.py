"""The customer chat page: privacy notice and consent first, then streaming answers with their sources,
and the customer's own data rights (download, delete, withdraw) on the same page.

The page speaks one language per visitor (?lang=de|en, else the browser's Accept-Language): it is built
hidden and shown by its load event, already in that language. Answers follow the question's language.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr

from agent.answering.assistant import SupportAgent
from agent.errors import AgentError
from agent.privacy.crypto import normalise_reference_code
from agent.privacy.subjects import DataSubjects
from agent.runtime.proof_of_work import SOLVER_JS, ProofOfWork
from agent.runtime.rate_limits import RateLimits
from agent.settings import Settings
from ui.chat_turn import (
    ChatMessages,
    History,
    Pending,
    Session,
    Visitor,
    hand_off,
    rate_last_answer,
    respond,
)
from ui.my_data import MyDataPanel, build_my_data_panel, wire_my_data_panel
from ui.texts import FALLBACK, texts, visitor_language


def notice_markdown(settings: Settings, language: str) -> str:
    """The AI notice and the short privacy notice, with a link to the full privacy page."""
    return (
        f"🤖 **{settings.ai_notice(language)}**\n\n{settings.privacy_notice(language)} "
        f"[{texts(language)['privacy_link']}](/privacy)"
    )


def build_chat(
    agent: SupportAgent, settings: Settings, subjects: DataSubjects, limits: RateLimits | None = None
) -> gr.Blocks:
    """The chat page. Per-customer state lives in the browser session (gr.State), never on this object."""
    said = texts(FALLBACK)
    proof = ProofOfWork(settings.proof_of_work_max_number) if settings.proof_of_work else None
    with gr.Blocks(
        title=f"{settings.company_name} – Hilfe / Help",
        analytics_enabled=False,
        delete_cache=(3600, 3600),  # Gradio's copies of downloads go after an hour at the latest
    ) as page:
        session = gr.State(None)
        history = gr.State([])
        pending = gr.State(None)  # a message held back as special-category data: server memory only
        ui = gr.State(FALLBACK)  # the visitor's UI language, set by the load event
        with gr.Column(visible=False, elem_id="page") as body:
            header = gr.Markdown(elem_id="title")
            with gr.Column(visible=True, elem_id="consent") as consent_panel:
                notice = gr.Markdown(elem_id="ai-notice")
                with gr.Row():
                    keep = gr.Button(said["consent_store"], elem_id="consent-store")
                    dont_keep = gr.Button(said["consent_none"], variant="primary", elem_id="consent-none")
                consent_status = gr.Markdown("", elem_id="consent-status")
                # the proof-of-work challenge (when switched on); the browser sends its solution instead
                puzzle = gr.Textbox("", visible=False, elem_id="proof-of-work")
            with gr.Column(visible=False, elem_id="chat-area") as chat_panel:
                status = gr.Markdown("", elem_id="privacy-status")
                chatbot = gr.Chatbot(label=said["chat_label"], elem_id="chat", height=460, buttons=["copy"])
                with gr.Row():
                    box = gr.Textbox(show_label=False, scale=5, max_lines=6, elem_id="question")
                    send = gr.Button(said["send"], variant="primary", scale=1, elem_id="send")
                with gr.Row(visible=False, elem_id="special-category") as special_panel:
                    send_anyway = gr.Button(said["special_send"], elem_id="special-send")
                    rephrase = gr.Button(
                        said["special_rephrase"], variant="primary", elem_id="special-rephrase"
                    )
                examples = gr.Examples(
                    examples=[[q] for q in settings.example_questions], inputs=[box], label=said["examples"]
                )
                with gr.Row():
                    thumbs_up = gr.Button(said["helpful"], size="sm", elem_id="rate-up")
                    thumbs_down = gr.Button(said["not_helpful"], size="sm", elem_id="rate-down")
                    human = gr.Button(said["human"], size="sm", elem_id="human")
                rating_status = gr.Markdown("", elem_id="rating-status")
                with gr.Column(visible=False, elem_id="handoff") as handoff_panel:
                    contact = gr.Textbox(label=said["contact_label"], elem_id="handoff-contact")
                    agreed = gr.Checkbox(label=said["handoff_consent"], elem_id="handoff-consent")
                    send_ticket = gr.Button(said["send_ticket"], elem_id="handoff-send")
                    handoff_status = gr.Markdown("", elem_id="handoff-status")
                withdraw = gr.Button(said["withdraw"], size="sm", elem_id="withdraw")
            rights = build_my_data_panel(FALLBACK)

        def show_page(request: gr.Request) -> tuple[Any, ...]:
            params = getattr(request, "query_params", None) or {}
            headers = getattr(request, "headers", None) or {}
            language = visitor_language(params.get("lang"), headers.get("accept-language"))
            t = texts(language)
            return (
                language,
                proof.challenge() if proof else "",
                gr.Column(visible=True),
                ""
                if params.get("embed")
                else f"## {settings.company_name} – {t['title']}",  # widget: no title
                notice_markdown(settings, language),
                gr.Button(t["consent_store"]),
                gr.Button(t["consent_none"]),
                gr.Chatbot(label=t["chat_label"]),
                gr.Textbox(placeholder=t["question_placeholder"]),
                gr.Button(t["send"]),
                gr.Button(t["special_send"]),
                gr.Button(t["special_rephrase"]),
                gr.Dataset(label=t["examples"]),
                gr.Button(t["helpful"]),
                gr.Button(t["not_helpful"]),
                gr.Button(t["human"]),
                gr.Textbox(label=t["contact_label"]),
                gr.Checkbox(label=t["handoff_consent"]),
                gr.Button(t["send_ticket"]),
                gr.Button(t["withdraw"]),
                *MyDataPanel.localised(language),
            )

        page.load(
            show_page,
            None,
            [
                ui, puzzle, body, header, notice, keep, dont_keep, chatbot, box, send, send_anyway, rephrase,
                examples.dataset,
                thumbs_up, thumbs_down, human, contact, agreed, send_ticket, withdraw, *rights.localisable,
            ],
            api_visibility="private",
        )  # fmt: skip

        consent_outputs = [
            session, consent_panel, chat_panel, status, rights.code, chatbot, history, pending, special_panel
        ]  # fmt: skip

        def choose(store: bool, language: str, solution: str, request: gr.Request) -> tuple[Any, ...]:
            t = texts(language)
            if proof and not proof.verify(solution):
                return *_unchanged(len(consent_outputs)), t["pow_failed"]
            if not Visitor.of(request).allowed(limits, "consent"):
                return *_unchanged(len(consent_outputs)), t["consent_limited"]
            if store:
                reference = subjects.consent_to_store()
                note = t["stored_note"].format(reference=reference)
                return *_opened({"store": True, "reference": reference}, note, reference), ""
            subjects.consent_without_storing()
            return *_opened({"store": False, "reference": None}, t["not_stored_note"], ""), ""

        def choose_store(language: str, solution: str, request: gr.Request) -> tuple[Any, ...]:
            return choose(True, language, solution, request)

        def choose_no_store(language: str, solution: str, request: gr.Request) -> tuple[Any, ...]:
            return choose(False, language, solution, request)

        def withdraw_consent(current: Session) -> tuple[Any, ...]:
            if current and current.get("store"):
                subjects.withdraw(current["reference"])
            elif current:
                subjects.withdraw_without_storing()
            return _closed()

        def turn(
            message: str,
            chat: ChatMessages,
            past: History,
            current: Session,
            language: str,
            request: gr.Request,
        ) -> Iterator[tuple[Any, ...]]:
            for box_text, shown, kept, held in respond(
                agent, settings, subjects, message, chat, past, current,
                ui=language, limits=limits, visitor=Visitor.of(request),
            ):  # fmt: skip
                yield box_text, shown, kept, held, gr.Row(visible=held is not None)

        def send_held(
            chat: ChatMessages,
            past: History,
            current: Session,
            language: str,
            held: Pending,
            request: gr.Request,
        ) -> Iterator[tuple[Any, ...]]:
            """The "send anyway" button: the held message takes the usual turn, its consent recorded."""
            if not held:
                yield *_unchanged(2), None, gr.Row(visible=False)
                return
            for _, shown, kept, _ in respond(
                agent, settings, subjects, held["text"], chat, past, current,
                ui=language, limits=limits, visitor=Visitor.of(request), confirmed=held["categories"],
            ):  # fmt: skip
                yield shown, kept, None, gr.Row(visible=False)

        def take_back(chat: ChatMessages, held: Pending) -> tuple[Any, ...]:
            """The "rephrase" button: the held message returns to the input box and is dropped here, and
            so is the notice about it (the chat's last message while a message is held)."""
            if not held:
                return *_unchanged(2), None, gr.Row(visible=False)
            if chat and chat[-1].get("role") == "assistant":
                chat = chat[:-1]
            return held["text"], chat, None, gr.Row(visible=False)

        def delete_data(reference: str, current: Session, language: str) -> tuple[Any, ...]:
            t = texts(language)
            try:
                receipt = subjects.erase(reference, actor="customer")
            except AgentError as exc:
                return f"⚠️ {exc}", None, *_unchanged(len(consent_outputs))
            text = t["deleted"].format(
                messages=receipt["messages_deleted"],
                erased_at=receipt["erased_at"],
                destroyed=t["yes"] if receipt["subject_key_destroyed"] else t["no"],
            )
            if current and current.get("reference") == normalise_reference_code(reference):
                return text, None, *_closed()  # their own conversation is gone: ask for consent again
            return text, None, *_unchanged(len(consent_outputs))

        def rate(past: History, current: Session, language: str, helpful: bool) -> str:
            return rate_last_answer(subjects, past, current, helpful, language)

        def ticket(
            contact_text: str,
            agreed_to: bool,
            past: History,
            current: Session,
            language: str,
            request: gr.Request,
        ) -> tuple[str, Session]:
            if not Visitor.of(request).allowed(limits, "ticket"):
                return texts(language)["ticket_limited"], current
            return hand_off(subjects, settings, contact_text, agreed_to, past, current, language)

        thumbs_up.click(
            lambda p, c, u: rate(p, c, u, True), [history, session, ui], [rating_status], api_name="rate_up"
        )
        thumbs_down.click(
            lambda p, c, u: rate(p, c, u, False),
            [history, session, ui],
            [rating_status],
            api_name="rate_down",
        )
        human.click(lambda: gr.Column(visible=True), None, [handoff_panel], api_visibility="private")
        send_ticket.click(
            ticket, [contact, agreed, history, session, ui], [handoff_status, session], api_name="handoff"
        )
        solver = SOLVER_JS if proof else None
        chosen = [*consent_outputs, consent_status]
        keep.click(choose_store, [ui, puzzle], chosen, js=solver, api_name="consent_store")
        dont_keep.click(choose_no_store, [ui, puzzle], chosen, js=solver, api_name="consent_none")
        withdraw.click(withdraw_consent, [session], consent_outputs, api_name="withdraw")
        turn_inputs = [box, chatbot, history, session, ui]
        turn_outputs = [box, chatbot, history, pending, special_panel]
        box.submit(turn, turn_inputs, turn_outputs, api_name="chat")
        send.click(turn, turn_inputs, turn_outputs, api_visibility="private")
        send_anyway.click(
            send_held,
            [chatbot, history, session, ui, pending],
            [chatbot, history, pending, special_panel],
            api_name="send_anyway",
        )
        rephrase.click(
            take_back, [chatbot, pending], [box, chatbot, pending, special_panel], api_name="rephrase"
        )
        wire_my_data_panel(rights, subjects, ui)
        rights.delete.click(
            delete_data,
            [rights.code, session, ui],
            [rights.status, rights.data_file, *consent_outputs],
            api_name="delete_my_data",
        )
    return page


def _opened(session: Session, note: str, reference: str) -> tuple[Any, ...]:
    return session, gr.Column(visible=False), gr.Column(visible=True), note, reference, *_fresh_chat()


def _closed() -> tuple[Any, ...]:
    return None, gr.Column(visible=True), gr.Column(visible=False), "", "", *_fresh_chat()


def _fresh_chat() -> tuple[Any, ...]:
    """Empty chat and history, no held message, its buttons hidden."""
    return [], [], None, gr.Row(visible=False)


def _unchanged(count: int) -> tuple[Any, ...]:
    return tuple(gr.skip() for _ in range(count))
