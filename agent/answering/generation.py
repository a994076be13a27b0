"""Prompt building and streaming generation with llama.cpp (in process)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from agent.errors import ModelError
from agent.knowledge.retrieval import Source

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": "..."}

_LANGUAGE_NAMES = {"de": "German (Deutsch)", "en": "English"}

# What the model is told to answer when the articles do not cover the question.
NOT_COVERED = "NOT_COVERED"

# Stop sequences that end a turn or mark the model starting to invent a new one.
STOP = ["<|im_end|>", "<|endoftext|>", "\nUser:", "\nKunde:", "\nCustomer:", "\n\n\n"]


@dataclass(frozen=True)
class GenerationOptions:
    """Sampling limits that keep answers short and stop loops."""

    max_tokens: int = 320
    temperature: float = 0.1
    repeat_penalty: float = 1.1


class Generator(Protocol):
    """Streams the text of an answer to a chat."""

    def stream(self, messages: list[Message]) -> Iterator[str]: ...

    def forget(self) -> None:
        """Drop anything of past prompts the generator keeps (called when a subject is erased)."""
        ...


def build_messages(
    question: str,
    sources: list[Source],
    language: str,
    history: list[tuple[str, str]],
    company: str,
) -> list[Message]:
    """The chat prompt: rules, numbered sources, recent history, then the question."""
    blocks = []
    for n, source in enumerate(sources, start=1):
        passages = "\n\n".join(source.passages)
        blocks.append(f"[{n}] {source.title}\n{passages}")
    system = (
        f"You are the customer-support assistant of {company}. Answer the customer's question using "
        "ONLY the help-center articles below. Do not add facts, numbers, prices, dates or contact "
        "details that are not in the articles. Customers write casually and use other words than the "
        "articles: if an article is about the customer's problem, answer from it. Only if no article "
        f"is about the question at all, reply with exactly {NOT_COVERED} and nothing else. "
        f"Always answer in {_LANGUAGE_NAMES.get(language, 'English')}. "
        "Be friendly and short: at most 4 sentences, no headings.\n\n"
        "HELP-CENTER ARTICLES:\n\n" + "\n\n".join(blocks)
    )
    messages: list[Message] = [{"role": "system", "content": system}]
    for asked, answered in history:
        messages.append({"role": "user", "content": asked})
        messages.append({"role": "assistant", "content": answered})
    messages.append({"role": "user", "content": question})
    return messages


class LlamaCppGenerator:
    """A GGUF model run in this process by llama.cpp, one generation at a time (it is not reentrant)."""

    def __init__(
        self, model_path: Path, *, context_tokens: int, threads: int, options: GenerationOptions
    ) -> None:
        from llama_cpp import Llama

        try:
            self._llm = Llama(
                model_path=str(model_path),
                n_ctx=context_tokens,
                n_threads=threads,
                n_threads_batch=threads,
                verbose=False,
                seed=42,
            )
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"llama.cpp could not load {model_path}: {exc}") from exc
        self._options = options
        self._lock = threading.Lock()

    def stream(self, messages: list[Message]) -> Iterator[str]:
        """Yield the answer piece by piece."""
        with self._lock:
            chunks = self._llm.create_chat_completion(
                messages=messages,  # type: ignore[arg-type]
                stream=True,
                max_tokens=self._options.max_tokens,
                temperature=self._options.temperature,
                repeat_penalty=self._options.repeat_penalty,
                stop=STOP,
            )
            for chunk in chunks:
                delta = chunk["choices"][0]["delta"].get("content")  # type: ignore[index]
                if delta:
                    yield delta

    def forget(self) -> None:
        """Wipe the last prompt from the model's memory (tokens, logits, KV cache): used on erasure."""
        with self._lock:
            self._llm.reset()
            self._llm.input_ids.fill(0)
            self._llm.scores.fill(0)
            self._llm._ctx.kv_cache_clear()  # llama-cpp-python has no public call for this
