"""Append-only, hash-chained audit trail: who did what to personal data and configuration, never content.

One JSON object per line. Each entry carries its sequence number, the previous entry's hash and its own
hash over both, so editing, removing or reordering any entry breaks the chain. The newest sequence
number and hash are also kept in `audit.head`, which catches a cut-off tail; copy the head printed by
`support-agent audit verify` somewhere else now and then to anchor it outside this machine.

Entries older than the audit retention period are pruned from the start of the file (`prune`). The
pruned part is summed up in `audit.checkpoint`: the sequence number and hash of the last pruned entry
(which the first kept entry links to), the total pruned so far, and the time. The pruning itself is an
`audit_pruned` entry that repeats those values and the checkpoint's SHA-256, so the kept trail still
verifies from the checkpoint on, and editing the checkpoint (e.g. to hide more removed entries) breaks it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.clock import utc_now
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
    pruned: int = 0  # older entries removed by retention, summed up in the checkpoint

    @property
    def ok(self) -> bool:
        """True when no entry was edited, removed or reordered."""
        return not self.problems


class AuditLog:
    """The audit file; safe to append from several processes (an exclusive lock per append)."""

    def __init__(self, path: Path, clock: Callable[[], datetime] = utc_now) -> None:
        self.path = path
        self.head_path = path.with_name(path.stem + ".head")
        self.checkpoint_path = path.with_name(path.stem + ".checkpoint")
        self._clock = clock

    def record(self, event: str, actor: str, **details: Scalar | list[Scalar]) -> dict[str, Any]:
        """Append one entry and return it."""
        try:
            with self._locked():
                return self._append(event, actor, details)
        except OSError as exc:
            raise AuditError(f"Cannot write the audit trail {self.path}: {exc}") from exc

    def prune(self, before: datetime, actor: str = "retention") -> int:
        """Remove the entries older than `before` from the start of the trail; how many.

        Writes the checkpoint first, then the shortened file, then an `audit_pruned` entry that seals
        the checkpoint into the chain. Nothing happens when no entry is old enough. A trail that does not
        verify is never pruned (AuditError): that would remove the evidence of the tampering.
        """
        cutoff = before.astimezone(UTC).isoformat(timespec="seconds")
        try:
            with self._locked():
                lines = self.path.read_text(encoding="utf-8").splitlines() if self.path.exists() else []
                old = 0
                for line in lines:
                    if json.loads(line)["at"] >= cutoff:
                        break
                    old += 1
                if old == 0:
                    return 0
                report = self.verify()
                if not report.ok:
                    raise AuditError(
                        f"The audit trail does not verify ({report.problems[0]}); nothing was pruned, so "
                        "the evidence stays. Check it with `support-agent audit verify`."
                    )
                last = json.loads(lines[old - 1])
                checkpoint = {
                    "through_seq": last["seq"],
                    "through_hash": last["hash"],
                    "pruned_total": self._checkpoint_pruned() + old,
                    "pruned_at": self._now(),
                    "cutoff": cutoff,
                }
                _replace(self.checkpoint_path, json.dumps(checkpoint, sort_keys=True) + "\n")
                _replace(self.path, "".join(line + "\n" for line in lines[old:]))
                self._append(
                    "audit_pruned",
                    actor,
                    {
                        "entries_pruned": old,
                        "through_seq": checkpoint["through_seq"],
                        "through_hash": checkpoint["through_hash"],
                        "pruned_total": checkpoint["pruned_total"],
                        "checkpoint": checkpoint_digest(checkpoint),
                    },
                )
        except OSError as exc:
            raise AuditError(f"Cannot prune the audit trail {self.path}: {exc}") from exc
        return old

    def entries(self) -> list[dict[str, Any]]:
        """Every entry, oldest first (unverified)."""
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line]

    def verify(self) -> AuditReport:
        """Check the whole chain, the checkpoint of pruned entries and the head; name what does not fit."""
        problems: list[str] = []
        prev, expected_seq = GENESIS, 1
        checkpoint = self._checkpoint(problems)
        if checkpoint:
            prev, expected_seq = checkpoint["through_hash"], checkpoint["through_seq"] + 1
        lines = self.path.read_text(encoding="utf-8").splitlines() if self.path.exists() else []
        sealed_by: dict[str, Any] | None = None
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
            if entry.get("event") == "audit_pruned":
                sealed_by = entry.get("details", {})
            prev, expected_seq = claimed, seq + 1
        if checkpoint and not _seals(sealed_by, checkpoint):
            problems.append(
                "the checkpoint of pruned entries does not match the last audit_pruned entry (checkpoint "
                "edited, or entries removed from the start)"
            )
        head_seq, head_hash = self.head()
        if (head_seq, head_hash) != (expected_seq - 1, prev):
            problems.append(
                f"the head says entry {head_seq} is the newest, the file ends at {expected_seq - 1} "
                "(entries cut off the end, or the head was changed)"
            )
        pruned = checkpoint["pruned_total"] if checkpoint else 0
        return AuditReport(len(lines), prev, problems, pruned)

    def _append(self, event: str, actor: str, details: dict[str, Any]) -> dict[str, Any]:
        """Write one entry after the head (the caller holds the lock)."""
        seq, prev = self.head()
        entry: dict[str, Any] = {
            "seq": seq + 1,
            "at": self._now(),
            "event": event,
            "actor": actor,
            "details": details,
            "prev": prev,
        }
        entry["hash"] = entry_hash(entry)
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")
        self.head_path.write_text(f"{entry['seq']} {entry['hash']}\n")
        return entry

    def _now(self) -> str:
        return self._clock().astimezone(UTC).isoformat(timespec="seconds")

    def _checkpoint(self, problems: list[str]) -> dict[str, Any] | None:
        """The checkpoint of pruned entries, if any (a malformed one is a problem)."""
        if not self.checkpoint_path.exists():
            return None
        try:
            checkpoint = json.loads(self.checkpoint_path.read_text(encoding="utf-8"))
            int(checkpoint["through_seq"]), str(checkpoint["through_hash"]), int(checkpoint["pruned_total"])
        except (ValueError, KeyError, TypeError):
            problems.append(f"{self.checkpoint_path.name}: not a checkpoint of pruned entries")
            return None
        return dict(checkpoint)

    def _checkpoint_pruned(self) -> int:
        checkpoint = self._checkpoint([])
        return int(checkpoint["pruned_total"]) if checkpoint else 0

    def head(self) -> tuple[int, str]:
        """(sequence number, hash) of the newest entry; (0, GENESIS) for an empty trail."""
        if not self.head_path.exists():
            return 0, GENESIS
        seq, digest = self.head_path.read_text().split()
        return int(seq), digest

    def copy_to(self, folder: Path) -> None:
        """Copy the trail, its head and its checkpoint (if pruned) into `folder`, between two appends
        (for backups)."""
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._locked():
            for path in (self.path, self.head_path, self.checkpoint_path):
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


def checkpoint_digest(checkpoint: dict[str, Any]) -> str:
    """SHA-256 over the checkpoint (canonical JSON), as sealed into the `audit_pruned` entry."""
    return hashlib.sha256(json.dumps(checkpoint, sort_keys=True).encode()).hexdigest()


def _seals(details: dict[str, Any] | None, checkpoint: dict[str, Any]) -> bool:
    """True when the audit_pruned entry's details vouch for exactly this checkpoint."""
    return (
        details is not None
        and details.get("checkpoint") == checkpoint_digest(checkpoint)
        and details.get("through_seq") == checkpoint["through_seq"]
        and details.get("through_hash") == checkpoint["through_hash"]
    )


def _replace(path: Path, text: str) -> None:
    """Write `text` to `path` atomically (a temp file renamed over it), private to this user."""
    temp = path.with_name(path.name + ".new")
    temp.write_text(text, encoding="utf-8")
    temp.chmod(0o600)
    os.replace(temp, path)


def entry_hash(entry: dict[str, Any]) -> str:
    """SHA-256 over the entry without its own hash (canonical JSON)."""
    body = {key: value for key, value in entry.items() if key != "hash"}
    return hashlib.sha256(json.dumps(body, ensure_ascii=False, sort_keys=True).encode()).hexdigest()
