"""Curated answers, the support lead's side: list them with their state, start one from a knowledge gap,
save (checked: no personal data, a customer-visible article), remove; saving and removing are audited
with ids and the article only, never the texts."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agent.answering.curated import CuratedAnswer
from agent.answering.language import detect_language
from agent.errors import AgentError
from agent.knowledge.retrieval import Retriever
from agent.privacy.crypto import normalise_reference_code
from agent.privacy.redaction import Redactor

if TYPE_CHECKING:
    from agent.staff.curated_store import CuratedAnswerStore
    from agent.staff.services import StaffServices

LANGUAGES = ("en", "de")
MAX_WORDINGS = 20
MAX_ANSWER_CHARS = 4000
_REFERENCE_CODE = re.compile(r"\b[0-9A-Za-z]{4}(?:-[0-9A-Za-z]{4}){3}\b")
_FOUND = {  # what the redactor found, in a support lead's words
    "EMAIL": "an e-mail address",
    "IBAN": "an IBAN",
    "CARD": "a card number",
    "VAT": "a VAT number",
    "TAX_ID": "a tax id",
    "IP": "an IP address",
    "PHONE": "a phone number",
    "ADDRESS": "a street address",
    "NAME": "a person's name",
}


class CuratedError(AgentError):
    """A curated answer that cannot be saved or found, with what to change."""


@dataclass(frozen=True)
class CuratedRow:
    """A curated answer as the console lists it: its article's title and whether customers get it."""

    answer: CuratedAnswer
    article_title: str
    status: str  # "active", or "inactive: <why>"


@dataclass(frozen=True)
class CuratedDraft:
    """A form's starting point: question wordings (one per line), language and article."""

    questions: str
    language: str
    article_id: str
    answer: str = ""
    answer_id: int | None = None
    active: bool = True


class CuratedAnswers:
    """The audited curated-answer actions (console and CLI), over the store and the live retriever."""

    def __init__(
        self,
        staff: StaffServices,
        store: Callable[[], CuratedAnswerStore],
        retriever: Callable[[], Retriever],
        audit: Callable[..., None],
    ) -> None:
        self._staff = staff
        self._store = store
        self._retriever = retriever
        self._audit = audit
        settings = staff.settings
        self._redactor = Redactor(settings.redaction_types, settings.phone_region)
        self._max_question = settings.max_message_chars

    def rows(self) -> list[CuratedRow]:
        """Every curated answer with its article's title and state, newest edit first."""
        retriever = self._retriever()
        rows = []
        for answer in self._store().answers():
            meta = retriever.indexed_article(answer.article_id)
            title = str(meta["title"]) if meta else ""
            rows.append(CuratedRow(answer, title, _status(answer, meta, retriever)))
        return sorted(rows, key=lambda r: r.answer.updated_at, reverse=True)

    def articles(self) -> list[tuple[str, str]]:
        """(label, id) of every article customers may be shown: the articles an answer may rest on."""
        return [
            (f"{m['title']} ({m['article_id']}, {m['language']})", str(m["article_id"]))
            for m in self._retriever().customer_articles()
        ]

    def from_gap(self, number: int) -> CuratedDraft:
        """A draft from the knowledge gap in row `number` (1 = the top row of the gaps table): its
        distinct (redacted) questions, their language and the closest customer-visible article."""
        gaps = self._staff.gaps()
        if not gaps:
            raise CuratedError("There are no knowledge gaps right now (press Load in the gaps table).")
        if not 1 <= number <= len(gaps):
            raise CuratedError(f"Choose a gap row between 1 and {len(gaps)}.")
        questions = list(dict.fromkeys(q.strip() for q in gaps[number - 1].questions if q.strip()))
        questions = questions[:MAX_WORDINGS]
        found = self._retriever().search(questions[0], top_k=1)
        return CuratedDraft(
            "\n".join(questions), detect_language(questions[0]), found[0].article_id if found else ""
        )

    def draft(self, answer_id: int) -> CuratedDraft:
        """An existing answer as a form to edit."""
        answer = self._known(answer_id)
        return CuratedDraft(
            "\n".join(answer.questions),
            answer.language,
            answer.article_id,
            answer.answer,
            answer.id,
            answer.active,
        )

    def save(
        self,
        answer_id: int | None,
        questions: str,
        answer: str,
        language: str,
        article_id: str,
        active: bool,
        username: str,
        actor: str,
    ) -> int:
        """Add a curated answer (no id) or replace one; its id. CuratedError says what to change."""
        wordings = self._wordings(questions)
        answer = (answer or "").strip()
        if not answer:
            raise CuratedError("Write the answer customers should get.")
        if len(answer) > MAX_ANSWER_CHARS:
            raise CuratedError(f"The answer has {len(answer)} characters; keep it under {MAX_ANSWER_CHARS}.")
        self._no_personal_data("answer", answer)
        for wording in wordings:
            self._no_personal_data("question", wording)
        language = (language or "").strip().lower() or detect_language(wordings[0])
        if language not in LANGUAGES:
            raise CuratedError(f"Choose the answer's language: {' or '.join(LANGUAGES)}.")
        article_id = (article_id or "").strip()
        if not article_id:
            raise CuratedError("Choose the article the answer rests on (it is cited under the answer).")
        if self._retriever().customer_article(article_id) is None:
            raise CuratedError(
                f"The article {article_id} is not shown to customers (a draft, internal, not indexed or "
                "outside the configured scope): choose a published public article."
            )
        store = self._store()
        if answer_id:
            self._known(answer_id)
            store.update(answer_id, wordings, answer, language, article_id, username, active)
            saved, new = answer_id, False
        else:
            saved, new = store.add(wordings, answer, language, article_id, username, active), True
        self._audit(
            "curated_answer_saved",
            actor,
            id=saved,
            article=article_id,
            language=language,
            wordings=len(wordings),
            new=new,
            active=active,
        )
        return saved

    def remove(self, answer_id: int, actor: str) -> CuratedAnswer:
        """Delete a curated answer (customers get the normal answer again)."""
        answer = self._known(answer_id)
        self._store().remove(answer_id)
        self._audit("curated_answer_removed", actor, id=answer_id, article=answer.article_id)
        return answer

    def _known(self, answer_id: int) -> CuratedAnswer:
        found = self._store().get(answer_id)
        if found is None:
            raise CuratedError(f"There is no curated answer {answer_id}.")
        return found

    def _wordings(self, questions: str) -> list[str]:
        wordings = list(
            dict.fromkeys(" ".join(q.split()) for q in (questions or "").splitlines() if q.strip())
        )
        if not wordings:
            raise CuratedError("Write at least one question the answer is for (one wording per line).")
        if len(wordings) > MAX_WORDINGS:
            raise CuratedError(
                f"At most {MAX_WORDINGS} question wordings per answer; you gave {len(wordings)}."
            )
        too_long = [w for w in wordings if len(w) > self._max_question]
        if too_long:
            raise CuratedError(
                f"A question wording has {len(too_long[0])} characters; customers may send at most "
                f"{self._max_question}."
            )
        return wordings

    def _no_personal_data(self, field: str, text: str) -> None:
        """Refuse text the redactor would change, or that holds a reference code: say what was found."""
        found = self._redactor.redact(text).found
        if any(normalise_reference_code(m.group()) for m in _REFERENCE_CODE.finditer(text)):
            found = {**found, "REFERENCE": 1}
        if found:
            names = ", ".join(_FOUND.get(kind, "a customer's reference code") for kind in sorted(found))
            raise CuratedError(
                f"The {field} contains what looks like personal data ({names}). Curated answers are "
                "shown to every customer: remove it (a contact address belongs in the article the answer "
                "cites). Nothing was saved."
            )


def _status(answer: CuratedAnswer, meta: dict[str, Any] | None, retriever: Retriever) -> str:
    """Whether customers get this answer now, and why not."""
    if not answer.active:
        return "inactive: switched off"
    if meta is None:
        return "inactive: article removed (not in the index)"
    if meta.get("status") != "published" or meta.get("audience") != "public":
        return f"inactive: article is {meta.get('status')} / {meta.get('audience')}"
    if not retriever.scope.allows(meta):
        return "inactive: article outside the configured scope"
    return "active"
