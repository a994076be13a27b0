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
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

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
        except (OSError, sa.exc.SQLAlchemyError) as exc:
            raise AuditError(f"Cannot write the audit trail ({self.where}): {exc}") from exc

    def prune(self, before: datetime, actor: str = "retention") -> int:
        """Remove the entries older than `before` from the start of the trail; how many.

        Writes the checkpoint first, then the shortened file, then an `audit_pruned` entry that seals
        the checkpoint into the chain. Nothing happens when no entry is old enough. A trail that does not
        verify is never pruned (AuditError): that would remove the evidence of the tampering.
        """
        cutoff = before.astimezone(UTC).isoformat(timespec="seconds")
        try:
            with self._locked():
                lines = self._read_lines()
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
                self._write_checkpoint(json.dumps(checkpoint, sort_keys=True) + "\n")
                self._drop_through(checkpoint["through_seq"], lines[old:])
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
        except (OSError, sa.exc.SQLAlchemyError) as exc:
            raise AuditError(f"Cannot prune the audit trail ({self.where}): {exc}") from exc
        return old

    def entries(self) -> list[dict[str, Any]]:
        """Every entry, oldest first (unverified)."""
        return [json.loads(line) for line in self._read_lines() if line]

    def entries_after(self, seq: int) -> list[dict[str, Any]]:
        """The entries newer than sequence number `seq`, oldest first (unverified)."""
        return [entry for entry in self.entries() if entry.get("seq", 0) > seq]

    def verify(self) -> AuditReport:
        """Check the whole chain, the checkpoint of pruned entries and the head; name what does not fit."""
        problems: list[str] = []
        prev, expected_seq = GENESIS, 1
        checkpoint = self._checkpoint(problems)
        if checkpoint:
            prev, expected_seq = checkpoint["through_hash"], checkpoint["through_seq"] + 1
        lines = self._read_lines()
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
        self._write_entry(json.dumps(entry, ensure_ascii=False, sort_keys=True), entry["seq"], entry["hash"])
        return entry

    def _now(self) -> str:
        return self._clock().astimezone(UTC).isoformat(timespec="seconds")

    def _checkpoint(self, problems: list[str]) -> dict[str, Any] | None:
        """The checkpoint of pruned entries, if any (a malformed one is a problem)."""
        text = self._read_checkpoint()
        if text is None:
            return None
        try:
            checkpoint = json.loads(text)
            int(checkpoint["through_seq"]), str(checkpoint["through_hash"]), int(checkpoint["pruned_total"])
        except (ValueError, KeyError, TypeError):
            problems.append("the checkpoint of pruned entries is not one")
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

    # storage: the file (DatabaseAuditLog keeps the same chain in the shared database) ---------------
    @property
    def where(self) -> str:
        """Where the trail is kept, for messages."""
        return str(self.path)

    def _read_lines(self) -> list[str]:
        return self.path.read_text(encoding="utf-8").splitlines() if self.path.exists() else []

    def _write_entry(self, line: str, seq: int, digest: str) -> None:
        with self.path.open("a", encoding="utf-8") as out:
            out.write(line + "\n")
        self.head_path.write_text(f"{seq} {digest}\n")

    def _drop_through(self, seq: int, kept: list[str]) -> None:
        """Remove the entries up to `seq`; `kept` are the lines after it."""
        _replace(self.path, "".join(line + "\n" for line in kept))

    def _read_checkpoint(self) -> str | None:
        return self.checkpoint_path.read_text(encoding="utf-8") if self.checkpoint_path.exists() else None

    def _write_checkpoint(self, text: str) -> None:
        _replace(self.checkpoint_path, text)

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


AUDIT_TABLES = sa.MetaData()
AUDIT_ENTRIES = sa.Table(
    "audit_entries",
    AUDIT_TABLES,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("line", sa.Text, nullable=False),  # the entry as the file would hold it
)
AUDIT_STATE = sa.Table(  # "head" ("SEQ HASH") and "checkpoint" (JSON), as the file trail's side files
    "audit_state",
    AUDIT_TABLES,
    sa.Column("name", sa.String(16), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)


class DatabaseAuditLog(AuditLog):
    """The same hash chain in the shared database (PostgreSQL), so replicas append to one trail.

    An append locks the state table for its transaction: replicas take turns, and `verify` checks one
    chain. Its rows are never touched by an erasure.
    """

    def __init__(self, engine: Engine, clock: Callable[[], datetime] = utc_now) -> None:
        self._engine = engine
        self._clock = clock
        self._turn = threading.Lock()  # threads of this process; the table lock orders the replicas
        self._held = threading.local()
        AUDIT_TABLES.create_all(engine)

    @property
    def where(self) -> str:
        return f"table {AUDIT_ENTRIES.name} in the conversation database"

    def head(self) -> tuple[int, str]:
        value = self._state("head")
        if value is None:
            return 0, GENESIS
        seq, digest = value.split()
        return int(seq), digest

    def entries_after(self, seq: int) -> list[dict[str, Any]]:
        query = sa.select(AUDIT_ENTRIES.c.line).where(AUDIT_ENTRIES.c.seq > seq).order_by(AUDIT_ENTRIES.c.seq)
        with self._connection() as conn:
            return [json.loads(line) for line in conn.execute(query).scalars()]

    def copy_to(self, folder: Path) -> None:
        raise AuditError("The audit trail is in the database: it is backed up with the database (pg_dump).")

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._turn, self._engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(f"LOCK TABLE {AUDIT_STATE.name} IN EXCLUSIVE MODE")
            self._held.conn = conn
            try:
                yield
            finally:
                self._held.conn = None

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        """This thread's locked transaction, or a fresh connection for reading."""
        held = getattr(self._held, "conn", None)
        if held is not None:
            yield held
            return
        with self._engine.connect() as conn:
            yield conn

    def _read_lines(self) -> list[str]:
        with self._connection() as conn:
            return list(conn.execute(sa.select(AUDIT_ENTRIES.c.line).order_by(AUDIT_ENTRIES.c.seq)).scalars())

    def _write_entry(self, line: str, seq: int, digest: str) -> None:
        with self._connection() as conn:
            conn.execute(AUDIT_ENTRIES.insert().values(seq=seq, line=line))
        self._set_state("head", f"{seq} {digest}")

    def _drop_through(self, seq: int, kept: list[str]) -> None:
        with self._connection() as conn:
            conn.execute(AUDIT_ENTRIES.delete().where(AUDIT_ENTRIES.c.seq <= seq))

    def _read_checkpoint(self) -> str | None:
        return self._state("checkpoint")

    def _write_checkpoint(self, text: str) -> None:
        self._set_state("checkpoint", text)

    def _state(self, name: str) -> str | None:
        with self._connection() as conn:
            return conn.execute(sa.select(AUDIT_STATE.c.value).where(AUDIT_STATE.c.name == name)).scalar()

    def _set_state(self, name: str, value: str) -> None:
        with self._connection() as conn:
            conn.execute(AUDIT_STATE.delete().where(AUDIT_STATE.c.name == name))
            conn.execute(AUDIT_STATE.insert().values(name=name, value=value))


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
