"""Calibrate `curated_answer_min_similarity`: how close a customer's question must be to a curated one.

A curated answer is shown verbatim, without the model and without the grounding guard, so a false match
(another topic's answer) is the failure that matters. Using eval/dev.jsonl and eval/paraphrases-de.jsonl
with the configured embedding model, every pair of questions in the same language is scored (cosine of
the query embeddings, as the answer path compares them):

- positives: two questions about the same article (in paraphrases-de, two wordings of one question);
- negatives: questions about different articles, and a must-refuse question (no article) against one
  that has an article.

The threshold is the lowest similarity above every negative pair (rounded up to 0.005); the script
prints the distributions, the threshold and the share of positive pairs it still matches, and writes
bench/out/curated_threshold.json.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterable
from itertools import combinations
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.runtime.process import harden_process  # noqa: E402
from agent.settings import load_settings  # noqa: E402
from agent.wiring import build_embedder  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FILES = (ROOT / "eval" / "dev.jsonl", ROOT / "eval" / "paraphrases-de.jsonl")
STEP = 0.005  # the threshold's resolution


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()
    settings = load_settings()
    harden_process(settings)
    embedder = build_embedder(settings)
    rows = [
        json.loads(line) for path in FILES for line in path.read_text(encoding="utf-8").splitlines() if line
    ]
    vectors = np.asarray([embedder.embed_query(r["question"]) for r in rows], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    positives, negatives, paraphrases = _pairs(rows, vectors)
    threshold = math.floor(max(negatives) / STEP + 1) * STEP
    caught = sum(p >= threshold for p in positives) / len(positives)
    figures = {
        "embedding_model": embedder.name,
        "questions": len(rows),
        "positive_pairs": _summary(positives),
        "negative_pairs": _summary(negatives),
        "paraphrase_pairs": _summary(paraphrases),  # the positives inside paraphrases-de.jsonl
        "paraphrases_matched_at_threshold": round(
            sum(p >= threshold for p in paraphrases) / len(paraphrases), 3
        ),
        "threshold": round(threshold, 3),
        "positives_matched_at_threshold": round(caught, 3),
        "positives_matched_at": {
            f"{t:.2f}": round(sum(p >= t for p in positives) / len(positives), 3)
            for t in (0.85, 0.88, 0.90, 0.92, 0.94, 0.96)
        },
        "paraphrases_matched_at": {
            f"{t:.2f}": round(sum(p >= t for p in paraphrases) / len(paraphrases), 3)
            for t in (0.85, 0.88, 0.90, 0.92, 0.94, 0.96)
        },
        "negatives_matched_at": {
            f"{t:.2f}": sum(n >= t for n in negatives) for t in (0.85, 0.88, 0.90, 0.92, 0.94, 0.96)
        },
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "curated_threshold.json").write_text(json.dumps(figures, indent=2), encoding="utf-8")
    print(f"{len(rows)} questions, {len(positives)} positive and {len(negatives)} negative pairs")
    for name in ("positive_pairs", "paraphrase_pairs", "negative_pairs"):
        s = figures[name]
        print(
            f"{name:15} min {s['min']:.3f}  p5 {s['p5']:.3f}  p50 {s['p50']:.3f}  p95 {s['p95']:.3f}  "
            f"max {s['max']:.3f}"
        )
    print(
        f"threshold {threshold:.3f}: no negative pair matches; {caught:.1%} of positive pairs and "
        f"{figures['paraphrases_matched_at_threshold']:.1%} of paraphrase pairs still match"
    )
    print(f"written: {args.out / 'curated_threshold.json'}")


def _pairs(rows: list[dict], vectors: np.ndarray) -> tuple[list[float], list[float], list[float]]:
    """(positive, negative, paraphrase) similarities; paraphrases are positives inside paraphrases-de."""
    positives: list[float] = []
    negatives: list[float] = []
    paraphrases: list[float] = []
    for i, j in combinations(range(len(rows)), 2):
        a, b = rows[i], rows[j]
        if a["language"] != b["language"]:
            continue  # curated answers are matched within one language only
        first, second = a.get("expected_article"), b.get("expected_article")
        if not first and not second:
            continue  # two must-refuse questions may well be about the same missing topic
        similarity = float(vectors[i] @ vectors[j])
        (positives if first == second else negatives).append(similarity)
        if first == second and a["id"].startswith("para-") and b["id"].startswith("para-"):
            paraphrases.append(similarity)
    return positives, negatives, paraphrases


def _summary(values: Iterable[float]) -> dict[str, float]:
    data = np.asarray(list(values))
    return {
        "count": int(data.size),
        "min": round(float(data.min()), 4),
        "p5": round(float(np.percentile(data, 5)), 4),
        "p50": round(float(np.percentile(data, 50)), 4),
        "p95": round(float(np.percentile(data, 95)), 4),
        "max": round(float(data.max()), 4),
    }


if __name__ == "__main__":
    main()
