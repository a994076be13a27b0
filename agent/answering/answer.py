"""What SupportAgent gives back: an answer (growing while it streams) and the articles it cites."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Citation:
    """An article an answer is based on."""

    id: str
    title: str
    url: str


@dataclass(frozen=True)
class Answer:
    """An answer, possibly partial while streaming (done=False)."""

    text: str
    citations: list[Citation]
    refused: bool
    language: str
    timings: dict[str, float] = field(default_factory=dict)
    done: bool = False
    retrieved: list[str] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    question: str = ""  # the validated question
    removed: list[str] = field(default_factory=list)  # sentences the grounding guard dropped
    extractive: bool = False  # nothing the model wrote was supported: a quoted passage instead
    redacted: dict[str, int] = field(default_factory=dict)  # personal data removed from the question
    follow_up: bool = False  # the topic came from the previous question, not from this one
    # The articles the model is reading now; on a handoff after reading, the ones it read.
    reading: list[Citation] = field(default_factory=list)
    queued: int = 0  # customers ahead of this one at the model (while waiting)
    busy: bool = False  # not answered: too many customers were waiting
    refusal: str = ""  # why it was handed off: "retrieval", "model", "guard" or "busy" (for the reports)
    curated: int = 0  # the id of the support lead's curated answer given verbatim (0 = none)

    def as_dict(self) -> dict[str, object]:
        """The JSON shape of `support-agent ask --json`."""
        return {
            "answer": self.text,
            "citations": [c.__dict__ for c in self.citations],
            "refused": self.refused,
            "timings": self.timings,
        }
