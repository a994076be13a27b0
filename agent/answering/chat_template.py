"""The model's own chat template, split so rules and articles can be told from the customer's text."""

from __future__ import annotations

from typing import Any


class ChatTemplate:
    """The model's own chat template, rendered with placeholders so each message content can be
    tokenised apart from the template's special tokens."""

    def __init__(self, formatter: Any) -> None:
        self._formatter = formatter

    @classmethod
    def of(cls, llm: Any) -> ChatTemplate | None:
        template = llm.metadata.get("tokenizer.chat_template")
        if not template:
            return None
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        def text(token: int) -> str:
            return llm.detokenize([token], special=True).decode(errors="ignore") if token >= 0 else ""

        return cls(Jinja2ChatFormatter(template, text(llm.token_eos()), text(llm.token_bos())))

    def split(self, messages: list[dict[str, str]]) -> list[tuple[str, bool, bool]] | None:
        """(text, is template glue, customer-free prefix ends after it) pieces; None when the
        template does not keep contents verbatim (then the generator falls back to plain chat)."""
        blocks = getattr(messages, "blocks", ())
        if not blocks or messages[0]["role"] != "system":
            return None
        system = messages[0]["content"]
        if not system.startswith("".join(blocks)):
            return None
        contents: list[tuple[str, bool]] = [(b, True) for b in blocks]
        contents.append((system[len("".join(blocks)) :], False))
        marked = [{"role": "system", "content": "".join(_mark(i) for i in range(len(contents)))}]
        for message in messages[1:]:
            marked.append({"role": message["role"], "content": _mark(len(contents))})
            contents.append((message["content"], False))
        rendered = self._formatter(messages=marked).prompt
        pieces: list[tuple[str, bool, bool]] = []
        rest = rendered
        for index, (content, boundary) in enumerate(contents):
            glue, found, rest = rest.partition(_mark(index))
            if not found:
                return None
            pieces.append((glue, True, False))
            pieces.append((content, False, boundary))
        pieces.append((rest, True, False))
        return pieces


def _mark(index: int) -> str:
    return f"\u2063\u27e6{index}\u27e7\u2063"
