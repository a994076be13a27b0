"""Write a source's articles into the drafts folder, incrementally, never over a local edit.

The folder's `.import-state.json` remembers, per source article (its stable key): the file written, the
hash of what the source said and of the file as written, and when. On the next import:

- source unchanged → nothing is written (a local edit stays as it is);
- source changed, file as we wrote it (or gone) → the file is updated;
- source changed AND the file was edited here → a conflict: the local file is kept, the source's
  version is parked in the state until someone takes it (`take_source`) or keeps theirs (`keep_mine`);
- gone from the source → reported as removed; the file is kept (deleting is a person's decision), and
  once it is deleted here too the state forgets it.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from agent.importing.drafts import Language, article_id, draft_text, file_name, source_hash
from agent.importing.model import ImportRefused, SourceBatch
from agent.knowledge.articles import ArticleProblem, parse_article

STATE_FILE = ".import-state.json"
ID_PREFIX = {"files": "doc", "website": "web", "zendesk": "zendesk", "freshdesk": "freshdesk"}
_LOCK = threading.Lock()  # one import at a time per process (the schedule and the console may overlap)


@dataclass
class ImportReport:
    """What one import did, by file name (never content). `invalid` holds 'where [field]: why' lines."""

    kind: str
    origin: str
    into: str
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    images_dropped: dict[str, int] = field(default_factory=dict)
    finished_at: str = ""

    def counts(self) -> dict[str, int]:
        """How many articles fell into each outcome."""
        names = ("created", "updated", "unchanged", "removed", "conflicts", "invalid")
        return {name: len(getattr(self, name)) for name in names}

    def summary(self) -> str:
        """One line, as the CLI prints it."""
        return ", ".join(f"{name} {count}" for name, count in self.counts().items())

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def detail_lines(self) -> list[str]:
        """What needs a person's attention, one line each: conflicts, removals, invalid articles, images."""
        lines = [f"conflict (kept yours, source changed too): {name}" for name in self.conflicts]
        lines += [f"removed at the source (file kept): {name}" for name in self.removed]
        lines += [f"skipped (invalid): {reason}" for reason in self.invalid]
        lines += [f"images left out: {name}: {count}" for name, count in self.images_dropped.items()]
        return lines


@dataclass(frozen=True)
class Conflict:
    """A draft edited here whose source changed too: the file is kept until someone decides."""

    file: str
    key: str
    since: str


def sync_batch(batch: SourceBatch, into: Path, *, collection: str, language: Language) -> ImportReport:
    """Write the batch's articles as drafts into `into` and return the report (also kept in the state)."""
    with _LOCK:
        into.mkdir(parents=True, exist_ok=True)
        state = _load_state(into)
        articles: dict[str, dict[str, Any]] = state["articles"]
        report = ImportReport(batch.kind, batch.origin, str(into))
        report.invalid = [str(skip) for skip in batch.skipped]
        today = datetime.now(UTC).date()
        now = _now()
        prefix = ID_PREFIX[batch.kind]
        taken = {entry["file"] for entry in articles.values()}
        ids: dict[str, str] = {}
        seen: set[str] = set()
        for article in batch.articles:
            ident = article_id(prefix, article.source_id)
            if ident in ids:
                report.invalid.append(f"{article.source_id} [id]: same id '{ident}' as {ids[ident]}; skipped")
                continue
            ids[ident] = article.source_id
            seen.add(article.key)
            text = draft_text(article, prefix, collection, language, today)
            new_hash = source_hash(article, prefix, collection, language)
            entry = articles.get(article.key)
            if entry is None:
                name = file_name(article, prefix)
                if name in taken:  # another source article with the same title and id: keep both apart
                    name = f"{ident}.md"
                entry = {"origin": _origin(batch), "file": name, "id": ident, "source_hash": None}
                entry["file_hash"] = None
            entry.pop("removed_at", None)
            outcome = _apply(into, entry, text, new_hash, now, report.invalid)
            if outcome is None:
                continue
            articles[article.key] = entry
            taken.add(entry["file"])
            getattr(report, outcome).append(entry["file"])
            if article.images_dropped and outcome in ("created", "updated"):
                report.images_dropped[entry["file"]] = article.images_dropped
        for key, entry in list(articles.items()):
            if batch.complete and entry["origin"] == _origin(batch) and key not in seen:
                if not (into / entry["file"]).exists():  # removed there and deleted here: done with it
                    del articles[key]
                    continue
                entry.setdefault("removed_at", now)
                report.removed.append(entry["file"])
        report.finished_at = now
        state["last_report"] = report.as_dict()
        _save_state(into, state)
        return report


def _apply(
    into: Path, entry: dict[str, Any], text: str, new_hash: str, now: str, invalid: list[str]
) -> str | None:
    """Decide and do one article: 'created', 'updated', 'unchanged', 'conflicts', or None (invalid)."""
    path = into / entry["file"]
    if entry["source_hash"] == new_hash:
        entry.pop("pending", None)  # the source went back to what we have
        return "unchanged"
    local = _hash_file(path)
    if local is not None and local != entry["file_hash"]:
        entry["pending"] = {"source_hash": new_hash, "text": text, "since": now}
        return "conflicts"
    problem = _write_draft(path, text)
    if problem:
        invalid.append(f"{entry['file']} {problem}")
        return None
    outcome = "created" if entry["source_hash"] is None else "updated"
    entry.update(source_hash=new_hash, file_hash=_hash_text(text), imported_at=now)
    entry.pop("pending", None)
    return outcome


def conflicts(into: Path) -> list[Conflict]:
    """The drafts waiting for a decision: edited here while their source changed."""
    state = _load_state(into)
    return [
        Conflict(entry["file"], key, entry["pending"]["since"])
        for key, entry in sorted(state["articles"].items(), key=lambda item: item[1]["file"])
        if "pending" in entry
    ]


def resolve_conflict(into: Path, file: str, *, take_source: bool) -> None:
    """Take the source's version (overwrites the local file) or keep the local one (the source's
    change is acknowledged; the next change at the source is a conflict again)."""
    with _LOCK:
        state = _load_state(into)
        entry = next((e for e in state["articles"].values() if e["file"] == file and "pending" in e), None)
        if entry is None:
            names = ", ".join(c.file for c in conflicts(into)) or "none"
            raise ImportRefused(f"{file} has no open import conflict in {into} (open conflicts: {names}).")
        pending = entry.pop("pending")
        if take_source:
            problem = _write_draft(into / file, pending["text"])
            if problem:
                raise ImportRefused(f"{file}: the source's version is not a valid article {problem}")
            entry["file_hash"] = _hash_text(pending["text"])
            entry["imported_at"] = _now()
        entry["source_hash"] = pending["source_hash"]
        _save_state(into, state)


def last_report(into: Path) -> dict[str, Any] | None:
    """The report of the last import into this folder, if any."""
    return _load_state(into).get("last_report")


def _origin(batch: SourceBatch) -> str:
    return f"{batch.kind}:{batch.origin}"


def _write_draft(path: Path, text: str) -> str | None:
    """Write atomically after checking the text is a valid article; the problem ('[field]: why') if not."""
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(text, encoding="utf-8")
    try:
        parse_article(temp)
    except ArticleProblem as exc:
        temp.unlink()
        return (f"[{exc.field}]" if exc.field else "") + f": {exc.message}"
    os.replace(temp, path)
    return None


def _hash_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _hash_file(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _load_state(into: Path) -> dict[str, Any]:
    path = into / STATE_FILE
    if not path.is_file():
        return {"version": 1, "articles": {}}
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ImportRefused(
            f"{path} cannot be read ({exc}); restore it from a backup or move it away to import afresh."
        ) from None
    state.setdefault("articles", {})
    return state


def _save_state(into: Path, state: dict[str, Any]) -> None:
    path = into / STATE_FILE
    temp = path.with_name(path.name + ".tmp")
    temp.write_text(json.dumps(state, ensure_ascii=False, indent=1, default=_json_default), encoding="utf-8")
    os.replace(temp, path)


def _json_default(value: object) -> str:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(type(value).__name__)
