"""Curated answers in the Knowledge gaps tab: start from a gap (or an existing answer), write the answer
and its question wordings, choose the article it rests on, save; the list with each answer's state and
uses; removal with a confirmation. Each action checks the role on the server (`Console.require`); the
work and its audit entries are `agent.staff.curated.CuratedAnswers`'."""

from __future__ import annotations

from typing import Any

import gradio as gr
import pandas as pd

from agent.errors import AgentError
from agent.staff.curated import LANGUAGES, CuratedDraft
from agent.staff.services import staff_actor
from ui.admin.actions import Console

COLUMNS = ["id", "questions", "language", "article", "author", "updated", "state", "used"]


class CuratedConsole:
    """The server side of the curated-answer controls: one method per action, each starting with
    `Console.require`."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._curated = console.services.curated

    def show(self, request: gr.Request) -> tuple[pd.DataFrame, Any]:
        """Every curated answer with its state and uses; the articles an answer may rest on."""
        self._console.require("curated_list", request)
        return self._table(), self._articles()

    def pick(self, row: float | None, request: gr.Request) -> tuple[Any, ...]:
        """A new answer's form filled from the knowledge gap in `row` (1 = top row)."""
        self._console.require("curated_pick", request)
        if not row:
            raise gr.Error("Enter the row number of a gap (1 = the top row of the gaps table).")
        draft = self._done(lambda: self._curated.from_gap(int(row)))
        return self._form(
            draft, f"Gap {int(row)}: edit the wording, write the answer, check the article, save."
        )

    def load(self, answer_id: float | None, request: gr.Request) -> tuple[Any, ...]:
        """An existing answer's form, to edit."""
        self._console.require("curated_load", request)
        if not answer_id:
            raise gr.Error("Enter the id of a curated answer (from the list).")
        draft = self._done(lambda: self._curated.draft(int(answer_id)))
        return self._form(draft, f"Editing curated answer {int(answer_id)}.")

    def save(
        self,
        answer_id: float | None,
        questions: str,
        answer: str,
        language: str,
        article: str,
        active: bool,
        request: gr.Request,
    ) -> tuple[Any, str, pd.DataFrame]:
        """Add (no id) or replace a curated answer; the refusal says what to change."""
        session = self._console.require("curated_save", request)
        saved = self._done(
            lambda: self._curated.save(
                int(answer_id) if answer_id else None,
                questions,
                answer,
                language,
                article,
                bool(active),
                session.username,
                staff_actor(session.username),
            )
        )
        state = "active" if active else "switched off"
        return saved, f"Saved curated answer {saved} ({state}).", self._table()

    def remove(
        self, answer_id: float | None, confirmed: bool, request: gr.Request
    ) -> tuple[Any, str, pd.DataFrame]:
        """Delete a curated answer (after the confirmation box is ticked)."""
        session = self._console.require("curated_remove", request)
        if not answer_id:
            raise gr.Error("Enter the id of the curated answer to remove.")
        if not confirmed:
            raise gr.Error("Tick “I confirm the removal” first.")
        self._done(lambda: self._curated.remove(int(answer_id), staff_actor(session.username)))
        return None, f"Removed curated answer {int(answer_id)}.", self._table()

    def _table(self) -> pd.DataFrame:
        rows = [
            {
                "id": r.answer.id,
                "questions": " | ".join(r.answer.questions)[:300],
                "language": r.answer.language,
                "article": f"{r.article_title} ({r.answer.article_id})"
                if r.article_title
                else r.answer.article_id,
                "author": r.answer.author,
                "updated": r.answer.updated_at,
                "state": r.status,
                "used": r.answer.uses,
            }
            for r in self._done(self._curated.rows)
        ]
        return pd.DataFrame(rows, columns=COLUMNS)

    def _articles(self, value: str | None = None) -> Any:
        return gr.Dropdown(choices=self._done(self._curated.articles), value=value)

    def _form(self, draft: CuratedDraft, message: str) -> tuple[Any, ...]:
        return (
            draft.answer_id,
            draft.questions,
            draft.answer,
            draft.language,
            self._articles(draft.article_id or None),
            draft.active,
            message,
        )

    @staticmethod
    def _done(work: Any) -> Any:
        try:
            return work()
        except AgentError as exc:
            raise gr.Error(str(exc)) from None


def build_curated(console: Console) -> None:
    """The curated-answer controls, inside the Knowledge gaps tab."""
    curated = CuratedConsole(console)
    with gr.Accordion("Curated answers", open=True):
        gr.Markdown(
            "Write or approve the answer for a gap: similar questions then get it word for word, with the "
            "article it rests on as its source, and the model is not asked. No personal data in the texts."
        )
        with gr.Row():
            gap_row = gr.Number(label="Gap row (1 = top row)", precision=0)
            pick = gr.Button("Start from this gap")
            answer_id = gr.Number(label="Curated answer id (empty = new)", precision=0)
            load = gr.Button("Edit this answer")
        questions = gr.Textbox(label="Questions it answers (one wording per line)", lines=3)
        answer = gr.Textbox(label="Answer customers get, word for word", lines=5)
        with gr.Row():
            language = gr.Dropdown(list(LANGUAGES), value=LANGUAGES[0], label="Language")
            article = gr.Dropdown([], label="Article it rests on (cited)", allow_custom_value=True)
            active = gr.Checkbox(value=True, label="Active")
        with gr.Row():
            save = gr.Button("Save", variant="primary")
            confirm = gr.Checkbox(label="I confirm the removal")
            remove = gr.Button("Remove", variant="stop")
        message = gr.Markdown()
        show = gr.Button("Load curated answers")
        table = gr.Dataframe(label="Curated answers", wrap=True)
        form = [answer_id, questions, answer, language, article, active, message]
        show.click(curated.show, None, [table, article], api_name="curated_list")
        pick.click(curated.pick, [gap_row], form, api_name="curated_pick")
        load.click(curated.load, [answer_id], form, api_name="curated_load")
        save.click(
            curated.save,
            [answer_id, questions, answer, language, article, active],
            [answer_id, message, table],
            api_name="curated_save",
        )
        remove.click(
            curated.remove, [answer_id, confirm], [answer_id, message, table], api_name="curated_remove"
        )
