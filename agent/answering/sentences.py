"""Answer text split into sentences and list items, also while it streams."""

from __future__ import annotations

import re

from agent.answering.dates import MONTH

_ABBREVIATIONS = re.compile(
    r"\b(z|u|d|e|i|a|b|h|g|bzw|ca|inkl|zzgl|ggf|Nr|Mo|Fr|Sa|So|Tel|max|min|evtl|vgl|Art|Abs)\.\s"
    r"|(?:^|(?<=\n))[ \t]*\d{1,2}\.\s"  # "Art. 15 DSGVO", and the number of a list item
    rf"|\b\d{{1,2}}\.\s(?=(?:{MONTH})\b)",  # "bis zum 31. Dezember"
    re.I,
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_DAY_NUMBER_END = re.compile(r"\b\d{1,2}\.$")
_WORD_SO_FAR = re.compile(r"\w*")
_PLACEHOLDER = "\u0000"


def split_sentences(text: str) -> list[str]:
    """Sentences and list items of an answer (abbreviations such as 'z. B.' do not end a sentence)."""
    protected = _ABBREVIATIONS.sub(lambda m: m.group(0)[:-1] + _PLACEHOLDER, text)
    parts = _SENTENCE_END.split(protected)
    return [p.replace(_PLACEHOLDER, " ").strip() for p in parts if p and p.strip()]


def complete_sentences(buffer: str) -> tuple[list[str], str]:
    """Split streamed text into finished sentences and the unfinished rest."""
    protected = _ABBREVIATIONS.sub(lambda m: m.group(0)[:-1] + _PLACEHOLDER, buffer)
    last_end = None
    for match in _SENTENCE_END.finditer(protected):
        # "bis zum 31. Dez…": whether "31." ends the sentence shows once the next word is complete.
        undecided = _DAY_NUMBER_END.search(protected, 0, match.start()) and _WORD_SO_FAR.fullmatch(
            protected, match.end()
        )
        if not undecided:
            last_end = match
    if last_end is None:
        return [], buffer
    done = protected[: last_end.start()].replace(_PLACEHOLDER, " ")
    rest = protected[last_end.end() :].replace(_PLACEHOLDER, " ")
    return split_sentences(done), rest
