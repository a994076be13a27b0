"""The "My data" panel of the chat page: a customer's rights with their reference code – download
(Art. 15/20), correct a message or contact (Art. 16), restrict processing (Art. 18), object to the
improvement purpose (Art. 21). Deleting (Art. 17) is wired by ui/chat.py, as it also ends the chat."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from agent.errors import AgentError
from agent.privacy.subjects import LIMIT_REQUESTS, DataSubjects
from ui.texts import texts

TARGETS = ("message", "contact")  # what a correction changes


@dataclass
class MyDataPanel:
    """The panel's components."""

    accordion: gr.Accordion
    help: gr.Markdown
    code: gr.Textbox
    download: gr.Button
    delete: gr.Button
    request: gr.Dropdown
    apply: gr.Button
    target: gr.Radio
    number: gr.Number
    correction: gr.Textbox
    correct: gr.Button
    status: gr.Markdown
    data_file: gr.File

    @property
    def localisable(self) -> list[Any]:
        """The components whose texts follow the visitor's language, in `localised`'s order."""
        return [
            self.accordion, self.help, self.code, self.download, self.delete, self.request, self.apply,
            self.target, self.number, self.correction, self.correct,
        ]  # fmt: skip

    @staticmethod
    def localised(language: str) -> tuple[Any, ...]:
        """Updates that put the panel into the visitor's language."""
        t = texts(language)
        return (
            gr.Accordion(label=t["my_data"]),
            t["my_data_help"],
            gr.Textbox(label=t["reference_code"]),
            gr.Button(t["download"]),
            gr.Button(t["delete"]),
            gr.Dropdown(label=t["request_label"], choices=_choices(t, tuple(LIMIT_REQUESTS), "request_")),
            gr.Button(t["request_apply"]),
            gr.Radio(label=t["correct_label"], choices=_choices(t, TARGETS, "correct_")),
            gr.Number(label=t["correct_number"]),
            gr.Textbox(label=t["correct_text"]),
            gr.Button(t["correct"]),
        )


def build_my_data_panel(language: str) -> MyDataPanel:
    """The panel, in `language` until the page's load event localises it."""
    t = texts(language)
    with gr.Accordion(t["my_data"], open=False, elem_id="my-data") as accordion:
        help_text = gr.Markdown()
        code = gr.Textbox(label=t["reference_code"], elem_id="reference-code")
        with gr.Row():
            download = gr.Button(t["download"], elem_id="download-data")
            delete = gr.Button(t["delete"], variant="stop", elem_id="delete-data")
        with gr.Row():
            request = gr.Dropdown(
                _choices(t, tuple(LIMIT_REQUESTS), "request_"),
                label=t["request_label"],
                elem_id="rights-request",
                scale=3,
            )
            apply = gr.Button(t["request_apply"], elem_id="rights-apply", scale=1)
        with gr.Row():
            target = gr.Radio(
                _choices(t, TARGETS, "correct_"),
                value="message",
                label=t["correct_label"],
                elem_id="correct-what",
            )
            number = gr.Number(label=t["correct_number"], precision=0, minimum=1, elem_id="correct-number")
        correction = gr.Textbox(label=t["correct_text"], elem_id="correct-text")
        correct = gr.Button(t["correct"], elem_id="correct-apply")
        status = gr.Markdown("", elem_id="rights-status")
        data_file = gr.File(label="JSON", interactive=False, elem_id="data-file")
    return MyDataPanel(
        accordion, help_text, code, download, delete, request, apply, target, number, correction, correct,
        status, data_file,
    )  # fmt: skip


def wire_my_data_panel(panel: MyDataPanel, subjects: DataSubjects, ui: gr.State) -> None:
    """Download, requests and corrections (each also a named API endpoint)."""

    def download_data(reference: str, language: str) -> tuple[str, str | None]:
        try:
            path = subjects.export_file(reference, actor="customer")
        except AgentError as exc:
            return f"⚠️ {exc}", None
        return texts(language)["your_data"], str(path)

    def apply_request(reference: str, request: str | None, language: str) -> str:
        t = texts(language)
        if request not in LIMIT_REQUESTS:
            return f"⚠️ {t['request_choose']}"
        try:
            subjects.limit_processing(reference, request, actor="customer")
        except AgentError as exc:
            return f"⚠️ {exc}"
        return t[f"request_done_{request}"]

    def apply_correction(
        reference: str, target: str | None, number: float | None, text: str, language: str
    ) -> tuple[str, str]:
        t = texts(language)
        if number is None or number < 1:
            return f"⚠️ {t['correct_number_missing']}", text
        try:
            if target == "contact":
                subjects.rectify_contact(reference, int(number), text, actor="customer")
            else:
                subjects.rectify_message(reference, int(number), text, actor="customer")
        except AgentError as exc:
            return f"⚠️ {exc}", text
        return t["corrected"].format(number=int(number)), ""

    panel.download.click(
        download_data, [panel.code, ui], [panel.status, panel.data_file], api_name="download_my_data"
    )
    panel.apply.click(
        apply_request, [panel.code, panel.request, ui], [panel.status], api_name="my_data_request"
    )
    panel.correct.click(
        apply_correction,
        [panel.code, panel.target, panel.number, panel.correction, ui],
        [panel.status, panel.correction],
        api_name="correct_my_data",
    )


def _choices(t: dict[str, str], values: tuple[str, ...], prefix: str) -> list[tuple[str, str]]:
    return [(t[prefix + value], value) for value in values]
