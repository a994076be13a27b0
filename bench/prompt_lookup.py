"""Does prompt-lookup decoding pay on this machine? The same answers with and without it, one run.

Answers from the help center often copy phrases of the article, which prompt-lookup decoding guesses
ahead and checks in one batch. Both generators read the same prompts (rules + article + question, with
the article's state taken from the prefix cache), interleaved, so machine noise hits both alike.
Writes bench/out/prompt_lookup.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from agent.answering.generation import LlamaCppGenerator, build_messages
from agent.runtime.process import harden_process
from agent.settings import load_settings
from agent.wiring import build_generator, build_retriever

QUESTIONS = [
    ("Wie lange habe ich Zeit für eine Rücksendung?", "de"),
    ("How long does delivery to Austria take?", "en"),
    ("Kann ich auf Rechnung bezahlen?", "de"),
    ("How do I get my personal data deleted?", "en"),
    ("Wie ändere ich meine Lieferadresse?", "de"),
    ("can i pay with paypal", "en"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench/out"))
    parser.add_argument("--lookup-tokens", type=int, default=10)
    args = parser.parse_args()
    settings = load_settings()
    harden_process(settings)
    retriever = build_retriever(settings)
    plain = build_generator(settings.model_copy(update={"prompt_lookup_tokens": 0}))
    lookup = build_generator(settings.model_copy(update={"prompt_lookup_tokens": args.lookup_tokens}))
    assert isinstance(plain, LlamaCppGenerator) and isinstance(lookup, LlamaCppGenerator)
    figures: dict[str, list[float]] = {"plain": [], "lookup": []}
    for question, language in QUESTIONS:
        sources = retriever.search(question)[:1]
        prompt = build_messages(question, sources, language, [], settings.company_name)
        for name, generator in (("plain", plain), ("lookup", lookup)) * 2:
            started = time.perf_counter()
            text = "".join(generator.stream(prompt))
            seconds = time.perf_counter() - started
            if generator.last.cache != "miss":  # the second round: the article's state is cached
                figures[name].append(seconds)
            print(f"{name:6} {seconds:6.2f} s  {generator.last.cache:7} {text[:70]!r}", flush=True)
    result = {
        name: {"median_s": round(statistics.median(v), 2), "answers": len(v)} for name, v in figures.items()
    }
    result["plain_over_lookup"] = round(result["plain"]["median_s"] / result["lookup"]["median_s"], 2)
    print(json.dumps(result, indent=2))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "prompt_lookup.json").write_text(json.dumps(result, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
