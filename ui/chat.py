"""The customer chat page: AI notice, streaming answers with their source articles, examples in de/en."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import gradio as gr

from agent.assistant import Answer, Citation, SupportAgent
from agent.errors import AgentError, MessageError
from agent.language import detect_language
from agent.settings import Settings

log = logging.getLogger(__name__)

ChatMessages = list[dict[str, Any]]
History = list[tuple[str, str]]

_SOURCES_LABEL = {"de": "Quelle", "en": "Source"}
_SORRY = {
    "en": "Sorry, something went wrong on our side. Please try again in a moment.",
    "de": "Entschuldigung, bei uns ist etwas schiefgelaufen. Bitte versuchen Sie es gleich noch einmal.",
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
    agent: SupportAgent, settings: Settings, message: str, chat: ChatMessages | None, history: History | None
) -> Iterator[tuple[str, ChatMessages, History]]:
    """One chat turn: yields (cleared input box, chat messages, history) while the answer streams."""
    chat = list(chat or [])
    history = list(history or [])
    shown = (message or "").strip()[: settings.max_message_chars + 1]
    chat.append({"role": "user", "content": shown})
    chat.append({"role": "assistant", "content": ""})
    try:
        answer = None
        for answer in agent.stream(message, history):
            chat[-1] = {"role": "assistant", "content": format_answer(answer) if answer.done else answer.text}
            yield "", chat, history
        if answer is not None:
            history.append((shown, answer.text))
            log.info(
                "answered: refused=%s language=%s sources=%d total_s=%s",
                answer.refused,
                answer.language,
                len(answer.citations),
                answer.timings.get("total_s"),
            )
    except MessageError as exc:
        chat[-1] = {"role": "assistant", "content": str(exc)}
    except AgentError as exc:
        # Never the message text in logs: only what kind of failure it was.
        log.error("chat turn failed: %s", type(exc).__name__)
        chat[-1] = {"role": "assistant", "content": _apology(settings, shown)}
    except Exception:
        log.exception("chat turn failed unexpectedly")
        chat[-1] = {"role": "assistant", "content": _apology(settings, shown)}
    yield "", chat, history


def _apology(settings: Settings, message: str) -> str:
    language = detect_language(message)
    return f"{_SORRY.get(language, _SORRY['en'])}\n\n{settings.handoff_text(language)}"


def build_chat(agent: SupportAgent, settings: Settings) -> gr.Blocks:
    """The chat page. Per-customer state lives in the browser session (gr.State), never on this object."""
    with gr.Blocks(title=f"{settings.company_name} – Hilfe / Help", analytics_enabled=False) as page:
        gr.Markdown(f"## {settings.company_name} – Hilfe / Help")
        gr.Markdown(f"🤖 **{settings.ai_notice_de}**\n\n🤖 **{settings.ai_notice_en}**", elem_id="ai-notice")
        chatbot = gr.Chatbot(label="Chat", elem_id="chat", height=460, buttons=["copy"])
        history = gr.State([])
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

        def turn(
            message: str, chat: ChatMessages, past: History
        ) -> Iterator[tuple[str, ChatMessages, History]]:
            yield from respond(agent, settings, message, chat, past)

        box.submit(turn, [box, chatbot, history], [box, chatbot, history], api_name="chat")
        send.click(turn, [box, chatbot, history], [box, chatbot, history], api_visibility="private")
    return page
