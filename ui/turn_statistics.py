"""The chat turn's anonymous statistics (agent.privacy.answer_stats): one call where a turn finishes, a
rating is given and a handoff is opened. A failure is logged by type and never disturbs the chat.

The visitor's session state (server memory, gr.State) remembers the last answer's outcome and cited
article, so a rating counts for the article it rates and a handoff knows what came before it.
"""

from __future__ import annotations

import logging
from typing import Any

from agent.answering.answer import Answer
from agent.errors import AgentError
from agent.privacy.subjects import DataSubjects

log = logging.getLogger(__name__)
LAST_ANSWER = "last_answer"  # session key: {"outcome": str, "article": str | None, "rated": bool}


def count_answer(subjects: DataSubjects, session: dict[str, Any], answer: Answer) -> None:
    """Count a finished answer (day, outcome, rounded time, cited article, language) and remember it in
    the session for the rating buttons and the handoff."""
    article = answer.citations[0].id if answer.citations and not answer.refused else None
    outcome = "refused" if answer.refused else "answered"
    # The session dict is the visitor's gr.State object itself: Gradio keeps this change for the session.
    session[LAST_ANSWER] = {"outcome": outcome, "article": article, "rated": False}
    try:
        subjects.statistics.record_answer(
            session.get("reference"),
            refused=answer.refused,
            seconds=answer.timings.get("total_s"),
            article=article,
            language=answer.language,
        )
    except AgentError as exc:
        log.error("could not count an answer: %s", type(exc).__name__)


def count_rating(subjects: DataSubjects, session: dict[str, Any], helpful: bool) -> None:
    """Count the first 👍 or 👎 on the last answer, for the article it cited."""
    last = session.get(LAST_ANSWER)
    if not last or last["rated"]:
        return
    last["rated"] = True
    try:
        subjects.statistics.record_rating(session.get("reference"), last["article"], helpful)
    except AgentError as exc:
        log.error("could not count a rating: %s", type(exc).__name__)


def count_handoff(subjects: DataSubjects, session: dict[str, Any]) -> None:
    """Count a handoff, with the outcome of the answer the customer saw last."""
    after = (session.get(LAST_ANSWER) or {}).get("outcome", "none")
    try:
        subjects.statistics.record_handoff(session.get("reference"), after)
    except AgentError as exc:
        log.error("could not count a handoff: %s", type(exc).__name__)
