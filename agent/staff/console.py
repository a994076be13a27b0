"""What the staff console shows and runs, without any UI: knowledge status, knowledge gaps, simulations."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from agent.knowledge.articles import load_knowledge
from agent.knowledge.embeddings import Embedder
from agent.knowledge.index import read_state
from agent.knowledge.retrieval import Retriever
from agent.privacy.store import Signal
from agent.settings import Settings

GAP_KINDS = ("refused", "thumbs_down")


# knowledge status -------------------------------------------------------------------------------
def knowledge_status(settings: Settings) -> dict[str, Any]:
    """Articles by collection / language / status / audience, invalid files, the last index run."""
    kb = load_knowledge(settings.knowledge_dir)
    metas = [a.meta for a in kb.articles]
    state = read_state(settings.index_dir)
    state_file = settings.index_dir / "last_run.json"
    return {
        "articles": len(metas),
        "by_collection": dict(sorted(Counter(m.collection for m in metas).items())),
        "by_language": dict(sorted(Counter(m.language for m in metas).items())),
        "by_status": dict(sorted(Counter(m.status for m in metas).items())),
        "by_audience": dict(sorted(Counter(m.audience for m in metas).items())),
        "problems": [{"file": str(p.path), "field": p.field, "message": p.message} for p in kb.problems],
        "last_index": {
            "at": datetime.fromtimestamp(state_file.stat().st_mtime, UTC).isoformat(timespec="seconds")
            if state_file.exists()
            else None,
            "summary": {k: len(v) if isinstance(v, list | dict) else v for k, v in (state or {}).items()},
        },
    }


# knowledge gaps ---------------------------------------------------------------------------------
@dataclass
class Gap:
    """Similar questions the bot could not serve, with the closest existing article."""

    questions: list[str]
    kinds: Counter[str] = field(default_factory=Counter)
    closest_article: str = ""
    closest_score: float = 0.0

    @property
    def size(self) -> int:
        """How many questions the group holds."""
        return len(self.questions)


def group_gaps(
    signals: list[Signal], embedder: Embedder, retriever: Retriever, threshold: float = 0.88
) -> list[Gap]:
    """Group similar questions (greedy, by cosine similarity to each group's first question), most
    frequent first, each with the article retrieval found closest."""
    gaps = [s for s in signals if s.kind in GAP_KINDS]
    if not gaps:
        return []
    vectors = np.asarray([embedder.embed_query(s.question) for s in gaps], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-9
    groups: list[tuple[np.ndarray, Gap]] = []
    for signal, vector in zip(gaps, vectors, strict=True):
        best = max(groups, key=lambda g: float(g[0] @ vector), default=None)
        if best is not None and float(best[0] @ vector) >= threshold:
            gap = best[1]
        else:
            gap = Gap([])
            groups.append((vector, gap))
        gap.questions.append(signal.question)
        gap.kinds[signal.kind] += 1
    result = sorted((g for _, g in groups), key=lambda g: -g.size)
    for gap in result:
        found = retriever.search(gap.questions[0], top_k=1)
        if found:
            gap.closest_article, gap.closest_score = (
                f"{found[0].title} ({found[0].article_id})",
                found[0].score,
            )
    return result


# simulations ------------------------------------------------------------------------------------
_RUN_ID = re.compile(r"^\d{8}-\d{6}-[a-z0-9-]{1,40}$")


UPLOAD_TYPES = (".csv", ".jsonl")  # files of past tickets a simulation replays


def simulations_dir(settings: Settings) -> Path:
    """Where console simulation runs are kept."""
    return settings.data_dir / "simulations"


def new_run_dir(settings: Settings, label: str) -> Path:
    """A fresh folder for a run: <time>-<label>."""
    slug = re.sub(r"[^a-z0-9-]+", "-", label.lower()).strip("-")[:40] or "run"
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    path = simulations_dir(settings) / f"{stamp}-{slug}"
    path.mkdir(parents=True, exist_ok=False)
    return path


def list_runs(settings: Settings) -> list[str]:
    """Finished runs, newest first."""
    root = simulations_dir(settings)
    if not root.exists():
        return []
    return sorted((p.name for p in root.iterdir() if (p / "summary.json").is_file()), reverse=True)


def run_overview(settings: Settings, run_id: str) -> dict[str, Any]:
    """The figures the console shows for one run (answered, refused, citation accuracy, latency)."""
    if not _RUN_ID.match(run_id or ""):
        raise ValueError(f"unknown simulation run {run_id!r}")
    folder = simulations_dir(settings) / run_id
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    results = [
        json.loads(line)
        for line in (folder / "results.jsonl").read_text(encoding="utf-8").splitlines()
        if line
    ]
    overall = summary["overall"]
    meta_file = folder / "run.json"
    meta = json.loads(meta_file.read_text(encoding="utf-8")) if meta_file.exists() else {}
    return {
        "run": run_id,
        "knowledge": meta.get("knowledge", ""),
        "questions": len(results),
        "answered": sum(not r["refused"] for r in results),
        "refused": sum(bool(r["refused"]) for r in results),
        "citation_accuracy": overall.get("citation_accuracy"),
        "recall@3": overall.get("recall@3"),
        "latency_p50_s": (overall.get("latency_total_s") or {}).get("p50"),
        "latency_p95_s": (overall.get("latency_total_s") or {}).get("p95"),
    }


def remove_simulation_files(settings: Settings, cutoff: datetime) -> tuple[int, int]:
    """Delete simulation run folders and uploaded past-ticket files (CSV or JSONL anywhere in the
    temp folder, where Gradio keeps uploads) last written before `cutoff`; (files, run folders)."""
    limit = cutoff.timestamp()
    runs = simulations_dir(settings)
    old_runs = [
        run
        for run in (runs.iterdir() if runs.exists() else [])
        if run.is_dir() and _last_written(run) < limit
    ]
    for run in old_runs:
        shutil.rmtree(run, ignore_errors=True)
    temp = settings.temp_dir
    found = temp.rglob("*") if temp.exists() else iter(())
    files = [
        p for p in found if p.suffix.lower() in UPLOAD_TYPES and p.is_file() and p.stat().st_mtime < limit
    ]
    for path in files:
        path.unlink(missing_ok=True)
    emptied = {parent for path in files for parent in path.parents if temp in parent.parents}
    for folder in sorted(emptied, key=lambda p: -len(p.parts)):  # folders left empty, deepest first
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    return len(files), len(old_runs)


def _last_written(folder: Path) -> float:
    """The newest modification time of a folder and everything in it."""
    return max([folder.stat().st_mtime, *(p.stat().st_mtime for p in folder.rglob("*"))])


def remove_old_runs(settings: Settings, keep: int = 20) -> None:
    """Keep the newest `keep` runs (results hold redacted questions only, still: do not hoard them)."""
    for run_id in list_runs(settings)[keep:]:
        shutil.rmtree(simulations_dir(settings) / run_id, ignore_errors=True)
