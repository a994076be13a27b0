"""The prompt (rules and help-center text first, customer text last) and streaming generation (llama.cpp)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from agent.answering.chat_template import ChatTemplate
from agent.answering.prefix_cache import PrefixCache, PrefixState
from agent.errors import ModelError
from agent.knowledge.retrieval import Source

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": "..."}

_LANGUAGE_NAMES = {"de": "German (Deutsch)", "en": "English"}

# What the model is told to answer when the articles do not cover the question.
NOT_COVERED = "NOT_COVERED"
# …and how it sometimes says so in words instead (measured on the dev set: "We're sorry, but we can't
# assist with that." passed the guard on the article's own "We're sorry" and was shown as an answer).
_DECLINES = re.compile(
    r"\b(?:can(?:no|'|’)t|can not|(?:am|are) unable to|(?:am|are) not able to) (?:assist|help)(?: you)?"
    r" with (?:that|this)\b"
    r"|\b(?:kann|können) (?:ich|wir) (?:Ihnen |dir )?(?:dabei |damit |hier )?(?:leider )?nicht"
    r" (?:weiter)?helfen",
    re.I,
)


def declines(sentence: str) -> bool:
    """Is this sentence the model saying the articles do not cover the question (NOT_COVERED, or in
    words: "I can't help with that", "Dabei kann ich Ihnen leider nicht helfen")?"""
    return NOT_COVERED in sentence.upper().replace(" ", "_") or bool(_DECLINES.search(sentence))


# Stop sequences that end a turn or mark the model starting to invent a new one.
STOP = ["<|im_end|>", "<|endoftext|>", "\nUser:", "\nKunde:", "\nCustomer:", "\n\n\n"]


@dataclass(frozen=True)
class GenerationOptions:
    """Sampling limits that keep answers short and stop loops."""

    max_tokens: int = 320
    temperature: float = 0.1
    repeat_penalty: float = 1.1


class Prompt(list[Message]):
    """The chat messages of one turn, plus the customer-free blocks the system message starts with.

    `blocks` (rules, then each source) joined are the start of the system message and never hold
    customer text, so a generator may keep the model state after them and reuse it for the next
    customer. Everything after them (answer language, history, question) is per turn.
    """

    def __init__(self, messages: Sequence[Message], blocks: Sequence[str] = ()) -> None:
        super().__init__(messages)
        self.blocks = tuple(blocks)


class Generator(Protocol):
    """Streams the text of an answer to a chat."""

    def stream(self, messages: list[Message]) -> Iterator[str]: ...

    def forget(self) -> None:
        """Drop anything of past prompts the generator keeps (called when a subject is erased)."""
        ...


def rules(company: str) -> str:
    """The answering rules: the same for every customer and language (so they can be cached)."""
    return (
        f"You are the customer-support assistant of {company}. Answer the customer's question using "
        "ONLY the help-center articles below. Do not add facts, numbers, prices, dates or contact "
        "details that are not in the articles. Customers write casually and use other words than the "
        "articles: if an article is about the customer's problem, answer from it. Only if no article "
        f"is about the question at all, reply with exactly {NOT_COVERED} and nothing else. "
        "Be friendly and short: at most 4 sentences, no headings.\n\nHELP-CENTER ARTICLES:"
    )


def source_block(number: int, source: Source) -> str:
    """One numbered article with its passages, as the model reads it."""
    passages = "\n\n".join(source.passages)
    return f"\n\n[{number}] {source.title}\n{passages}"


def build_messages(
    question: str,
    sources: list[Source],
    language: str,
    history: list[tuple[str, str]],
    company: str,
    german_address: str = "Sie",
) -> Prompt:
    """The chat prompt: rules, numbered sources, then the answer language, recent history, the question."""
    blocks = [rules(company), *(source_block(n, s) for n, s in enumerate(sources, start=1))]
    tail = f"\n\nAlways answer in {_LANGUAGE_NAMES.get(language, 'English')}."
    if language == "de":
        tail += f' Address the customer as "{german_address}".'
    messages: list[Message] = [{"role": "system", "content": "".join(blocks) + tail}]
    for asked, answered in history:
        messages.append({"role": "user", "content": asked})
        messages.append({"role": "assistant", "content": answered})
    messages.append({"role": "user", "content": question})
    return Prompt(messages, blocks)


@dataclass
class GenerationStats:
    """What the last generation cost: prompt tokens read now vs taken from the prefix cache."""

    prompt_tokens: int = 0
    reused_tokens: int = 0
    cache: str = ""  # "memory" | "disk" | "context" | "miss" | "off"
    prefix_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


class LlamaCppGenerator:
    """A GGUF model run in this process by llama.cpp, one generation at a time (it is not reentrant).

    The model's state after the customer-free start of a prompt (rules + articles) is kept in a
    prefix cache, so an answer from a known article reads only the question, not the article again.
    """

    def __init__(
        self,
        model_path: Path,
        *,
        context_tokens: int,
        threads: int,
        options: GenerationOptions,
        cache: PrefixCache | None = None,
        lookup_tokens: int = 0,
    ) -> None:
        from llama_cpp import Llama
        from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

        try:
            self._llm = Llama(
                model_path=str(model_path),
                n_ctx=context_tokens,
                n_threads=threads,
                n_threads_batch=threads,
                verbose=False,
                seed=42,
                # Answers copy phrases from the articles: guessed tokens are checked in one batch. The
                # library keeps logits of every prompt token then; its buffer must be sized for that.
                draft_model=LlamaPromptLookupDecoding(num_pred_tokens=lookup_tokens)
                if lookup_tokens
                else None,
                logits_all=bool(lookup_tokens),
            )
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"llama.cpp could not load {model_path}: {exc}") from exc
        self._options = options
        self._lock = threading.Lock()
        self._cache = cache
        self._template = ChatTemplate.of(self._llm)
        self._end_tokens = _end_of_turn_tokens(self._llm)
        self._local = threading.local()  # each customer's turn runs in its own thread

    @property
    def last(self) -> GenerationStats:
        """What this thread's last generation cost."""
        return getattr(self._local, "stats", GenerationStats())

    @property
    def llama(self) -> Any:
        """The llama-cpp-python model (benchmarks read its raw speed)."""
        return self._llm

    def stream(self, messages: list[Message]) -> Iterator[str]:
        """Yield the answer piece by piece."""
        with self._lock:
            pieces = self._template.split(messages) if self._template else None
            if pieces is None or self._cache is None:
                yield from self._stream_chat(messages)
                return
            tokens, boundaries = self._tokens(pieces)
            started = time.perf_counter()
            reused, origin = self._prepare_prefix(tokens, boundaries)
            self._local.stats = GenerationStats(
                len(tokens), reused, origin, round(time.perf_counter() - started, 4)
            )
            chunks = self._llm.create_completion(
                prompt=tokens,
                stream=True,
                max_tokens=self._options.max_tokens,
                temperature=self._options.temperature,
                repeat_penalty=self._options.repeat_penalty,
                stop=STOP,
                stopping_criteria=self._at_end_of_turn,  # type: ignore[arg-type]
            )
            for chunk in chunks:
                text = chunk["choices"][0]["text"]  # type: ignore[index]
                if text:
                    yield text

    def question_likelihood(self, messages: Prompt) -> float | None:
        """How well the prompt's articles explain the customer's question: the mean log-probability of
        the question's tokens after the rules and articles (the prefix cache spares re-reading them).
        None when the prompt cannot be split at its customer-free start (no chat template)."""
        with self._lock:
            pieces = self._template.split(messages) if self._template else None
            if pieces is None or self._cache is None:
                return None
            tokens, boundaries = self._tokens(pieces)
            glue = self._llm.tokenize(pieces[-1][0].encode(), add_bos=False, special=True)
            asked = self._llm.tokenize(pieces[-2][0].encode(), add_bos=False, special=False)
            end = len(tokens) - len(glue)
            start = end - len(asked)
            prefix = boundaries[-1]
            self._prepare_prefix(tokens, boundaries)
            self._truncate(prefix)
            # The logits after token i predict token i + 1: those after the token before the question on.
            rows = self._decode(tokens[prefix:end], logits_from=start - 1 - prefix)[:-1].astype(np.float64)
            peak = rows.max(axis=1, keepdims=True)
            log_norm = peak[:, 0] + np.log(np.exp(rows - peak).sum(axis=1))
            picked = rows[np.arange(len(asked)), tokens[start:end]]
            return float(np.mean(picked - log_norm)) if asked else 0.0

    def _decode(self, tokens: list[int], *, logits_from: int) -> np.ndarray:
        """Read `tokens` after the context; the logits after each of them from `logits_from` on."""
        rows: list[np.ndarray] = []
        size = self._llm.n_batch  # llama.cpp reads at most this many tokens at once
        for first in range(0, len(tokens), size):
            rows.append(self._decode_batch(tokens[first : first + size], logits_from=logits_from - first))
        return np.concatenate(rows)

    def _decode_batch(self, tokens: list[int], *, logits_from: int) -> np.ndarray:
        import llama_cpp

        past = self._llm.n_tokens
        batch = llama_cpp.llama_batch_init(len(tokens), 0, 1)
        try:
            batch.n_tokens = len(tokens)
            for i, token in enumerate(tokens):
                batch.token[i] = token
                batch.pos[i] = past + i
                batch.n_seq_id[i] = 1
                batch.seq_id[i][0] = 0
                batch.logits[i] = i >= logits_from
            if llama_cpp.llama_decode(self._llm.ctx, batch) != 0:
                raise ModelError("llama.cpp could not read the question.")
            wanted = len(tokens) - max(logits_from, 0)
            logits = np.zeros((0, self._llm.n_vocab()), dtype=np.single)
            if wanted > 0:
                pointer = llama_cpp.llama_get_logits(self._llm.ctx)
                logits = np.ctypeslib.as_array(pointer, shape=(wanted, self._llm.n_vocab())).copy()
        finally:
            llama_cpp.llama_batch_free(batch)
        self._llm.input_ids[past : past + len(tokens)] = tokens
        self._llm.n_tokens = past + len(tokens)
        return logits

    def _at_end_of_turn(self, tokens: Any, _logits: Any) -> bool:
        """Raw completions show no special tokens, so the end of the answer is found by token id."""
        return len(tokens) > 0 and int(tokens[-1]) in self._end_tokens

    def _stream_chat(self, messages: list[Message]) -> Iterator[str]:
        self._local.stats = GenerationStats(cache="off")
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

    def _tokens(self, pieces: list[tuple[str, bool, bool]]) -> tuple[list[int], list[int]]:
        """The prompt's tokens and the token counts after which the prompt is still customer-free.

        Template glue is tokenised with special tokens; message contents never are, so a customer who
        types "<|im_start|>" gets text, not a turn boundary.
        """
        tokens: list[int] = []
        boundaries: list[int] = []
        for index, (text, is_glue, boundary_after) in enumerate(pieces):
            if text:
                tokens += self._llm.tokenize(text.encode(), add_bos=index == 0, special=is_glue)
            if boundary_after:
                boundaries.append(len(tokens))
        return tokens, boundaries

    def _prepare_prefix(self, tokens: list[int], boundaries: list[int]) -> tuple[int, str]:
        """Make the context hold the longest customer-free prefix (from the context itself, the cache,
        or by reading it), and cache the states at each boundary read now. (tokens reused, origin)"""
        assert self._cache is not None
        held = _common_prefix(self._llm.input_ids[: self._llm.n_tokens], tokens)
        start = max([b for b in boundaries if b <= held], default=0)
        origin = "context" if start else "miss"
        if start < boundaries[-1]:
            for boundary in reversed([b for b in boundaries if b > start]):
                state, where = self._cache.get(tokens[:boundary])
                if state is not None:
                    self._restore(state)
                    start, origin = boundary, where
                    break
        if start == boundaries[-1]:
            return start, origin  # create_completion reuses it and drops whatever followed
        reused = start
        self._truncate(start)
        for boundary in (b for b in boundaries if b > start):
            self._llm.eval(tokens[start:boundary])
            start = boundary
            self._cache.put(tokens[:boundary], self._snapshot())
        return reused, origin

    def _truncate(self, keep: int) -> None:
        """Keep the first `keep` tokens of the context and nothing after them."""
        self._llm.n_tokens = keep
        self._llm.input_ids[keep:] = 0
        _memory_seq_rm(self._llm, keep)

    def _snapshot(self) -> PrefixState:
        """The llama.cpp state of the context as it is now (it holds a customer-free prefix only)."""
        import ctypes

        import llama_cpp

        size = llama_cpp.llama_state_get_size(self._llm.ctx)
        buffer = (ctypes.c_uint8 * int(size))()
        written = int(llama_cpp.llama_state_get_data(self._llm.ctx, buffer, size))
        n = self._llm.n_tokens
        return PrefixState(tuple(int(t) for t in self._llm.input_ids[:n]), bytes(buffer)[:written])

    def _restore(self, state: PrefixState) -> None:
        from llama_cpp import LlamaState

        input_ids = np.zeros_like(self._llm.input_ids)
        input_ids[: len(state.tokens)] = state.tokens
        self._llm.load_state(
            LlamaState(
                input_ids=input_ids,
                # Logits are not needed: the question after the prefix is always decoded first.
                scores=np.zeros((1, self._llm.n_vocab()), dtype=np.single),
                n_tokens=len(state.tokens),
                llama_state=state.data,
                llama_state_size=len(state.data),
                seed=42,
            )
        )

    def forget(self) -> None:
        """Wipe the last prompt from the model's memory (tokens, logits, KV cache): used on erasure.

        The prefix cache holds customer-free prefixes only, so it stays.
        """
        with self._lock:
            self._llm.reset()
            self._llm.input_ids.fill(0)
            self._llm.scores.fill(0)
            clear_model_memory(self._llm)


def _end_of_turn_tokens(llm: Any) -> frozenset[int]:
    """The end-of-text token and the template's end-of-turn tokens (those of STOP that are one token)."""
    ends = {int(llm.token_eos())}
    for text in STOP:
        tokens = llm.tokenize(text.encode(), add_bos=False, special=True)
        if len(tokens) == 1 and text.startswith("<|"):
            ends.add(int(tokens[0]))
    return frozenset(ends)


def clear_model_memory(llm: Any) -> None:
    """Clear the KV cache of a llama-cpp-python model through llama.cpp's public C API."""
    import llama_cpp

    llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(llm.ctx), True)


def _memory_seq_rm(llm: Any, keep: int) -> None:
    import llama_cpp

    llama_cpp.llama_memory_seq_rm(llama_cpp.llama_get_memory(llm.ctx), -1, keep, -1)


def _common_prefix(held: Sequence[int], tokens: Sequence[int]) -> int:
    count = 0
    for a, b in zip(held, tokens, strict=False):
        if a != b:
            break
        count += 1
    return count
