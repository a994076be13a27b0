"""Append-only, hash-chained audit trail: who did what to personal data and configuration, never content.

One JSON object per line. Each entry carries its sequence number, the previous entry's hash and its own
hash over both, so editing, removing or reordering any entry breaks the chain. The newest sequence
number and hash are also kept in `audit.head`, which catches a cut-off tail; copy the head printed by
`support-agent audit verify` somewhere else now and then to anchor it outside this machine.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.errors import AgentError

GENESIS = "0" * 64
# Values an entry may carry: small scalars and lists of them. Message text never belongs here.
Scalar = str | int | float | bool | None


class AuditError(AgentError):
    """The audit trail cannot be written."""


@dataclass(frozen=True)
class AuditReport:
    """Result of `verify`: ok when the chain is intact end to end."""

    entries: int
    head: str
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no entry was edited, removed or reordered."""
        return not self.problems


class AuditLog:
    """The audit file; safe to append from several processes (an exclusive lock per append)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.head_path = path.with_name(path.stem + ".head")

    def record(self, event: str, actor: str, **details: Scalar | list[Scalar]) -> dict[str, Any]:
        """Append one entry and return it."""
        try:
            with self._locked():
                seq, prev = self.head()
                entry: dict[str, Any] = {
                    "seq": seq + 1,
                    "at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "event": event,
                    "actor": actor,
                    "details": details,
                    "prev": prev,
                }
                entry["hash"] = entry_hash(entry)
                with self.path.open("a", encoding="utf-8") as out:
                    out.write(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")
                self.head_path.write_text(f"{entry['seq']} {entry['hash']}\n")
        except OSError as exc:
            raise AuditError(f"Cannot write the audit trail {self.path}: {exc}") from exc
        return entry

    def entries(self) -> list[dict[str, Any]]:
        """Every entry, oldest first (unverified)."""
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line]

    def verify(self) -> AuditReport:
        """Check the whole chain and the head; name the first entries that do not fit."""
        problems: list[str] = []
        prev, expected_seq = GENESIS, 1
        lines = self.path.read_text(encoding="utf-8").splitlines() if self.path.exists() else []
        for number, line in enumerate(lines, start=1):
            try:
                entry = json.loads(line)
                seq, claimed, linked = entry["seq"], entry["hash"], entry["prev"]
            except (ValueError, KeyError, TypeError):
                problems.append(f"line {number}: not an audit entry")
                continue
            if seq != expected_seq:
                problems.append(
                    f"line {number}: sequence {seq}, expected {expected_seq} (removed or reordered)"
                )
            if linked != prev:
                problems.append(f"line {number}: does not follow the previous entry (removed or reordered)")
            if entry_hash(entry) != claimed:
                problems.append(f"line {number}: content does not match its hash (edited)")
            prev, expected_seq = claimed, seq + 1
        head_seq, head_hash = self.head()
        if (head_seq, head_hash) != (expected_seq - 1, prev):
            problems.append(
                f"the head says entry {head_seq} is the newest, the file ends at {expected_seq - 1} "
                "(entries cut off the end, or the head was changed)"
            )
        return AuditReport(len(lines), prev, problems)

    def head(self) -> tuple[int, str]:
        """(sequence number, hash) of the newest entry; (0, GENESIS) for an empty trail."""
        if not self.head_path.exists():
            return 0, GENESIS
        seq, digest = self.head_path.read_text().split()
        return int(seq), digest

    def copy_to(self, folder: Path) -> None:
        """Copy the trail and its head into `folder`, between two appends (for backups)."""
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._locked():
            for path in (self.path, self.head_path):
                if path.exists():
                    shutil.copy2(path, folder / path.name)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self.path.with_name(self.path.name + ".lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def entry_hash(entry: dict[str, Any]) -> str:
    """SHA-256 over the entry without its own hash (canonical JSON)."""
    body = {key: value for key, value in entry.items() if key != "hash"}
    return hashlib.sha256(json.dumps(body, ensure_ascii=False, sort_keys=True).encode()).hexdigest()
