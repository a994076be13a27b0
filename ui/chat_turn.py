"""One chat turn and the customer's other actions (rating, handoff), with their texts and limits.

Texts around an answer follow the language of the customer's question; texts of the page's own controls
follow the visitor's UI language (`ui` below).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import gradio as gr

from agent.answering.answer import Answer, Citation
from agent.answering.assistant import SupportAgent
from agent.answering.language import detect_language
from agent.errors import AgentError, MessageError
from agent.privacy.special_categories import detect
from agent.privacy.subjects import DataSubjects, ProcessingRestricted
from agent.runtime import metrics
from agent.runtime.rate_limits import RateLimits
from agent.settings import Settings
from agent.staff.helpdesk import notify_helpdesk
from ui.texts import texts
from ui.turn_statistics import count_answer, count_handoff, count_rating

log = logging.getLogger(__name__)

ChatMessages = list[dict[str, Any]]
History = list[tuple[str, str]]
Session = dict[str, Any] | None  # {"store": bool, "reference": str | None}; None = no choice yet
# A message held back as likely special-category data: {"text": str, "categories": [str]}. It lives only
# in the visitor's session state (server memory) until they send it anyway or take it back to rephrase.
Pending = dict[str, Any] | None


@dataclass(frozen=True)
class Visitor:
    """Who is asking, for the rate limits only: the browser session and the IP address (never stored)."""

    session: str | None = None
    address: str | None = None

    @classmethod
    def of(cls, request: gr.Request | None) -> Visitor:
        """From Gradio's request (the address is the proxy's client when the proxy is trusted)."""
        if request is None:
            return cls()
        client = getattr(request, "client", None)
        return cls(getattr(request, "session_hash", None), getattr(client, "host", None))

    def allowed(self, limits: RateLimits | None, action: str) -> bool:
        """Count `action` for this visitor; False when over a limit."""
        return limits is None or limits.allow(action, visitor=self.session, address=self.address)


def format_answer(answer: Answer) -> str:
    """The answer as Markdown, with its source articles as links underneath – or, when it was handed off
    after the model read articles, those (the customer saw them being read and may find more there)."""
    if answer.citations:
        label, shown = _texts(answer)["sources"], answer.citations
    elif answer.refused and answer.reading:
        label, shown = _texts(answer)["read"], answer.reading
    else:
        return answer.text
    return f"{answer.text}\n\n*{label}: {' · '.join(_link(c) for c in shown)}*"


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
    *,
    ui: str = "en",
    limits: RateLimits | None = None,
    visitor: Visitor = Visitor(),
    confirmed: list[str] | None = None,
) -> Iterator[tuple[str, ChatMessages, History, Pending]]:
    """One chat turn: yields (cleared input box, chat messages, history, held message) while the answer
    streams.

    Nothing is processed before the customer has made their consent choice; only the redacted
    question is shown, answered, kept in the history and (with consent) stored. A visitor over a rate
    limit, or at the end of a very long conversation, is told so (with the way to a human) at once.
    A message that likely holds special-category data (Art. 9) goes no further: it is handed back as
    held, with a notice in the visitor's UI language, until they send it anyway (`confirmed`: the
    categories they agreed to; recorded, and the limits already counted it) or rephrase it.
    """
    chat = list(chat or [])
    history = list(history or [])
    if not session:
        chat.append({"role": "assistant", "content": texts(ui)["choose_first"]})
        yield message, chat, history, None
        return
    if not confirmed:
        refusal = _over_limit(settings, limits, visitor, message, history)
        if refusal:
            chat.append({"role": "assistant", "content": refusal})
            yield message, chat, history, None  # the question stays in the box, to send again later
            return
        held = _held(agent, settings, subjects, message)
        if held:
            chat.append({"role": "assistant", "content": special_notice(held["categories"], ui)})
            yield "", chat, history, held
            return
    else:
        try:
            subjects.special_categories_confirmed(confirmed, session.get("reference"))
        except AgentError as exc:
            log.error("could not record a special-category consent: %s", type(exc).__name__)
            chat.append({"role": "assistant", "content": apology(settings, message)})
            yield "", chat, history, None
            return
    chat.append({"role": "user", "content": "…"})
    chat.append({"role": "assistant", "content": ""})
    answer = None
    try:
        for answer in agent.stream(message, history):
            chat[-2] = {"role": "user", "content": answer.question}
            chat[-1] = {"role": "assistant", "content": _shown(answer)}
            yield "", chat, history, None
    except MessageError as exc:
        chat[-2] = {"role": "user", "content": "…"}
        chat[-1] = {"role": "assistant", "content": str(exc)}
    except AgentError as exc:
        # Never the message text in logs: only what kind of failure it was.
        log.error("chat turn failed: %s", type(exc).__name__)
        metrics.ERRORS.inc()
        chat[-1] = {"role": "assistant", "content": apology(settings, message)}
    except Exception:
        log.exception("chat turn failed unexpectedly")
        metrics.ERRORS.inc()
        chat[-1] = {"role": "assistant", "content": apology(settings, message)}
    if answer is not None and answer.done:
        _count(answer)
        count_answer(subjects, session, answer)
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
            chat[-1] = {"role": "assistant", "content": f"{_shown(answer)}\n\n{_texts(answer)['not_saved']}"}
    yield "", chat, history, None


def _held(agent: SupportAgent, settings: Settings, subjects: DataSubjects, message: str) -> Pending:
    """The message as held back when it likely holds special-category data (counted), else None.

    Empty or oversized messages are not held: the turn tells the customer what is wrong with them.
    """
    if not settings.special_category_warning:
        return None
    try:
        agent.validate(message)
    except MessageError:
        return None
    categories = detect(message)
    if not categories:
        return None
    log.info("held back: special categories %s", ",".join(categories))  # names only, never the text
    try:
        subjects.special_categories_held(categories)
    except AgentError as exc:
        log.error("could not count special categories: %s", type(exc).__name__)
    return {"text": message, "categories": categories}


def special_notice(categories: list[str], ui: str = "en") -> str:
    """What the customer is told about a held-back message, naming the categories, in the UI language."""
    said = texts(ui)
    names = ", ".join(said[f"art9_{category.lower()}"] for category in categories)
    return said["special_held"].format(categories=names)


def _over_limit(
    settings: Settings, limits: RateLimits | None, visitor: Visitor, message: str, history: History
) -> str:
    """The friendly refusal for a visitor over a limit ("" when within them)."""
    if len(history) >= settings.max_turns_per_conversation:
        key = "too_long"
        metrics.RATE_LIMITED.labels("conversation_length").inc()
    elif not visitor.allowed(limits, "question"):
        key = "slow_down"  # the limiter counted it
    else:
        return ""
    metrics.REFUSALS.labels("limit").inc()
    language = _question_language(message)
    return f"{texts(language)[key]}\n\n{settings.handoff_text(language)}"


def _count(answer: Answer) -> None:
    metrics.ANSWERS.labels("refused" if answer.refused else "answered").inc()
    if answer.refused:
        metrics.REFUSALS.labels(answer.refusal or "model").inc()
    metrics.GUARD_REMOVALS.inc(len(answer.removed))
    if answer.curated:
        metrics.CURATED_ANSWERS.inc()
    if answer.timings.get("total_s") is not None:
        metrics.ANSWER_SECONDS.observe(answer.timings["total_s"])


def _shown(answer: Answer) -> str:
    said = _texts(answer)
    text = format_answer(answer) if answer.done else answer.text
    if not answer.done and not text and answer.reading:
        text = said["reading"].format(links=" · ".join(_link(c) for c in answer.reading))
        if answer.queued:
            text = f"{text}\n\n{said['queued'].format(ahead=answer.queued)}"
    if answer.done and answer.refused:
        text = f"{text}\n\n{said['handoff_hint']}"
    if answer.redacted:
        note = said["redacted"].format(types=", ".join(f"[{t}]" for t in sorted(answer.redacted)))
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


def _texts(answer: Answer) -> dict[str, str]:
    return texts("de" if answer.language == "de" else "en")


def _question_language(message: str) -> str:
    return "de" if detect_language(message) == "de" else "en"


def apology(settings: Settings, message: str) -> str:
    """'Something went wrong' with the way to a human, in the language of the question."""
    language = _question_language(message) if message.strip() else "en"
    return f"{texts(language)['sorry']}\n\n{settings.handoff_text(language)}"


def rate_last_answer(
    subjects: DataSubjects, history: History, session: Session, helpful: bool, ui: str = "en"
) -> str:
    """Thumbs up/down on the last answer; kept only for customers who chose to keep their conversation."""
    if not session or not history:
        return texts(ui)["nothing_to_rate"]
    count_rating(subjects, session, helpful)
    if session.get("store"):
        try:
            subjects.rate(session["reference"], history[-1][0], helpful)
        except AgentError as exc:
            log.error("could not store a rating: %s", type(exc).__name__)
    return texts(ui)["thanks"]


def hand_off(
    subjects: DataSubjects,
    settings: Settings,
    contact: str,
    agreed: bool,
    history: History,
    session: Session,
    ui: str = "en",
) -> tuple[str, Session]:
    """Open a ticket for a human with the (redacted) transcript and the contact the customer left."""
    said = texts(ui)
    if not session:
        return said["choose_first"], session
    contact = (contact or "").strip()[:200]
    if not contact:
        return said["contact_missing"], session
    if not agreed:
        return said["agree_missing"], session
    transcript = "\n\n".join(f"Kunde/Customer: {q}\nAssistent/Assistant: {a}" for q, a in history) or "(–)"
    try:
        number, reference = subjects.open_ticket(session.get("reference"), transcript, contact)
    except ProcessingRestricted:
        return said["handoff_restricted"], session
    except AgentError as exc:
        log.error("could not open a handoff ticket: %s", type(exc).__name__)
        return said["sorry"], session
    metrics.HANDOFFS.inc()
    count_handoff(subjects, session)
    notify_helpdesk(settings, subjects, number, transcript, contact)
    session = {**session, "reference": reference}  # the ticket can be downloaded or deleted with it
    return said["ticket_opened"].format(number=number, reference=reference), session
