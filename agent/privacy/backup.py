"""Backups of the data dir that keep every erasure, and restores that replay the erasures made since.

A backup folder holds a consistent copy of the conversations database (SQLite online backup), the
subject keys database encrypted under a passphrase (its own file), the audit trail and the index's
last-run metadata, plus `manifest.json` with each file's SHA-256 and the audit entry the backup was
taken at. The master key is never in a backup: keep it apart (a backup plus the key would open
everything).

Restoring brings erased customers back unless something prevents it: every erasure recorded in the
audit trail after the backup's entry is replayed on the restored copy **before** it replaces the live
databases, so an erased subject is never readable again, not even for a moment.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from agent.clock import iso
from agent.errors import AgentError
from agent.privacy.audit import AuditLog
from agent.privacy.crypto import DecryptionError, Keyring, open_sealed, seal
from agent.privacy.store import ConversationStore, sqlite_url
from agent.settings import Settings

FORMAT = 1
MANIFEST = "manifest.json"
CONVERSATIONS = "conversations.db"
SUBJECT_KEYS = "subject-keys.db.enc"
AUDIT_DIR = "audit"
INDEX_METADATA = "index-last-run.json"
MIN_PASSPHRASE_CHARS = 12
PASSPHRASE_ENV = "SUPPORT_AGENT_BACKUP_PASSPHRASE"
_SALT_BYTES = 16
_KEYS_LABEL = b"support-agent backup: subject keys"


class BackupError(AgentError):
    """A backup that cannot be made or restored (the message says why; nothing was changed)."""


@dataclass(frozen=True)
class BackupInfo:
    """What a backup folder holds (from its manifest)."""

    folder: Path
    created_at: str
    audit_seq: int  # the newest audit entry when the backup was taken
    audit_hash: str
    files: dict[str, str]  # relative path -> SHA-256


@dataclass(frozen=True)
class RestoreReport:
    """What a restore did."""

    backup_created_at: str
    erasures_replayed: int
    subjects_erased: list[str]  # pseudonyms
    previous_files: Path | None  # where the replaced live files were moved
    audit_from_backup: bool  # True when the data dir had no audit trail and the backup's was installed


def create_backup(settings: Settings, to: Path, passphrase: str, actor: str) -> BackupInfo:
    """Copy the data dir's databases, audit trail and index metadata into the new folder `to`."""
    _sqlite_only(settings)
    _valid_passphrase(passphrase)
    if to.exists() and any(to.iterdir()):
        raise BackupError(f"{to} is not empty: give a new or empty folder for the backup.")
    if not settings.store_path.exists():
        raise BackupError(f"There is no conversation store in {settings.data_dir} to back up.")
    audit = AuditLog(settings.audit_path)
    # The audit head first: an erasure after this point is replayed at restore even if the copies below
    # already miss the subject (replaying is harmless), so none can fall between backup and replay.
    seq, head = audit.head()
    to.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        _sqlite_copy(settings.store_path, to / CONVERSATIONS)
        keys = _sqlite_bytes(settings.key_store_path)
        _write_private(to / SUBJECT_KEYS, encrypt_with_passphrase(keys, passphrase))
        audit.copy_to(to / AUDIT_DIR)
        last_run = settings.index_dir / "last_run.json"
        if last_run.exists():
            shutil.copy2(last_run, to / INDEX_METADATA)
    except (OSError, sqlite3.Error) as exc:
        raise BackupError(f"Could not write the backup to {to}: {exc}") from exc
    files = {str(p.relative_to(to)): _sha256(p) for p in sorted(to.rglob("*")) if p.is_file()}
    manifest = {"format": FORMAT, "created_at": iso(), "audit_seq": seq, "audit_hash": head, "files": files}
    _write_private(to / MANIFEST, json.dumps(manifest, indent=2).encode())
    audit.record("backup_created", actor, audit_seq=seq, files=len(files))
    return read_backup(to)


def read_backup(folder: Path) -> BackupInfo:
    """The manifest of a backup folder, after checking every file against its SHA-256."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        files = dict(manifest["files"])
        seq, head = int(manifest["audit_seq"]), str(manifest["audit_hash"])
        info = BackupInfo(folder, manifest["created_at"], seq, head, files)
    except FileNotFoundError as exc:
        raise BackupError(f"{folder} is not a backup folder (no {MANIFEST}).") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise BackupError(f"The backup manifest in {folder} is damaged: {exc}") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"The backup in {folder} has format {manifest.get('format')}, expected {FORMAT}.")
    for name, digest in files.items():
        path = folder / name
        if not path.is_file() or _sha256(path) != digest:
            raise BackupError(f"The backup file {path} is missing or changed since the backup was made.")
    return info


def restore_backup(
    settings: Settings, backup: Path, passphrase: str, keyring: Keyring, actor: str
) -> RestoreReport:
    """Replace the live databases with the backup's, minus every subject erased since the backup."""
    _sqlite_only(settings)
    info = read_backup(backup)
    keys = decrypt_with_passphrase((backup / SUBJECT_KEYS).read_bytes(), passphrase)
    live_audit = AuditLog(settings.audit_path)
    backup_audit = AuditLog(backup / AUDIT_DIR / settings.audit_path.name)
    use_backup_audit = not live_audit.path.exists()
    audit = backup_audit if use_backup_audit else live_audit
    erasures = erasures_after(audit, info.audit_seq, info.audit_hash)

    staging = Path(tempfile.mkdtemp(prefix="restore-", dir=settings.data_dir))
    try:
        staged_store, staged_keys = staging / CONVERSATIONS, staging / "subject-keys.db"
        shutil.copy2(backup / CONVERSATIONS, staged_store)
        _write_private(staged_keys, keys)
        store = ConversationStore(sqlite_url(staged_store), sqlite_url(staged_keys), keyring)
        try:
            erased = replay_erasures(store, erasures)
        finally:
            store.close()
        previous = _swap_in(settings, staged_store, staged_keys)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if use_backup_audit:
        backup_audit.copy_to(settings.audit_path.parent)
    last_run = backup / INDEX_METADATA
    if last_run.exists() and not (settings.index_dir / "last_run.json").exists():
        settings.index_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy2(last_run, settings.index_dir / "last_run.json")
    AuditLog(settings.audit_path).record(
        "backup_restored",
        actor,
        backup_created_at=info.created_at,
        backup_audit_seq=info.audit_seq,
        erasures_since_backup=len(erasures),
        subjects_erased_again=erased,
    )
    return RestoreReport(info.created_at, len(erasures), erased, previous, use_backup_audit)


def erasures_after(audit: AuditLog, seq: int, head: str | None = None) -> list[str]:
    """Pseudonyms of the subjects erased after audit entry `seq` (whose hash must be `head`, if given)."""
    entries = audit.entries()
    if seq and not any(e.get("seq") == seq and head in (None, e.get("hash")) for e in entries):
        raise BackupError(
            f"The audit trail {audit.path} does not contain the entry the backup was taken at "
            f"(number {seq}): it belongs to another installation or was pruned, so the erasures made "
            "since the backup cannot be replayed. Nothing was restored."
        )
    return [
        e["details"]["subject"]
        for e in entries
        if e.get("seq", 0) > seq and "subject_key_destroyed" in e.get("details", {})
    ]


def replay_erasures(store: ConversationStore, pseudonyms: Iterable[str]) -> list[str]:
    """Erase every subject whose pseudonym is listed; the pseudonyms that still had data."""
    erased = []
    for pseudonym in dict.fromkeys(pseudonyms):
        for subject in store.subjects_with_prefix(pseudonym):
            store.erase(subject)
            erased.append(pseudonym)
    return erased


def replay_erasures_since(store: ConversationStore, audit: AuditLog, seq: int, actor: str) -> list[str]:
    """After a database restore done elsewhere (pg_restore): erase again everyone erased after `seq`."""
    pseudonyms = erasures_after(audit, seq)
    erased = replay_erasures(store, pseudonyms)
    audit.record("erasures_replayed", actor, since_seq=seq, erasures=len(pseudonyms), erased_again=erased)
    return erased


def encrypt_with_passphrase(data: bytes, passphrase: str) -> bytes:
    """salt || AES-GCM under a key stretched from the passphrase with scrypt."""
    salt = os.urandom(_SALT_BYTES)
    return salt + seal(AESGCM(_stretch(passphrase, salt)), data, _KEYS_LABEL)


def decrypt_with_passphrase(data: bytes, passphrase: str) -> bytes:
    """The plaintext of `encrypt_with_passphrase`; BackupError for a wrong passphrase or damaged file."""
    salt, sealed = data[:_SALT_BYTES], data[_SALT_BYTES:]
    try:
        return open_sealed(AESGCM(_stretch(passphrase, salt)), sealed, _KEYS_LABEL)
    except DecryptionError as exc:
        raise BackupError("Wrong backup passphrase (or a damaged keys file). Nothing was restored.") from exc


# internals --------------------------------------------------------------------------------------
def _sqlite_only(settings: Settings) -> None:
    if settings.conversation_store_url or settings.key_store_url:
        raise BackupError(
            "The conversations are in a database server: back it up with pg_dump and, after a restore, "
            "run `support-agent privacy replay-erasures --since-seq N` with the audit entry number "
            "printed by `support-agent audit verify` just before the dump (see docs/privacy.md)."
        )


def _valid_passphrase(passphrase: str) -> None:
    if len(passphrase) < MIN_PASSPHRASE_CHARS:
        raise BackupError(f"The backup passphrase needs at least {MIN_PASSPHRASE_CHARS} characters.")


def _stretch(passphrase: str, salt: bytes) -> bytes:
    return Scrypt(salt=salt, length=32, n=2**15, r=8, p=1).derive(passphrase.encode())


def _sqlite_copy(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database (online backup API; WAL content included)."""
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)
    target.chmod(0o600)


def _sqlite_bytes(source: Path) -> bytes:
    """A consistent copy of a live SQLite database as bytes, never written unencrypted."""
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(":memory:")) as memory:
        src.backup(memory)
        return memory.serialize()


def _swap_in(settings: Settings, store: Path, keys: Path) -> Path | None:
    """Move the live database files aside (kept, not deleted) and the restored ones in their place."""
    live = [settings.store_path, settings.key_store_path]
    present = [p for base in live for p in _with_sidecars(base) if p.exists()]
    previous = None
    if present:
        previous = settings.data_dir / f"before-restore-{iso()[:19].replace(':', '')}"
        previous.mkdir(mode=0o700)
        for path in present:
            path.rename(previous / path.name)
    settings.key_store_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    store.rename(settings.store_path)
    keys.rename(settings.key_store_path)
    return previous


def _with_sidecars(path: Path) -> list[Path]:
    return [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def describe(report: RestoreReport) -> dict[str, Any]:
    """The restore report as JSON-ready data for the command line."""
    return {
        "backup_created_at": report.backup_created_at,
        "erasures_since_backup": report.erasures_replayed,
        "subjects_erased_again": len(report.subjects_erased),
        "previous_files_moved_to": str(report.previous_files) if report.previous_files else None,
        "audit_trail_restored_from_backup": report.audit_from_backup,
    }
