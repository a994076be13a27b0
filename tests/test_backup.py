"""Backups and restores keep every erasure: the canary erased after a backup stays unreadable.

Real SQLite files, real keys and the real command line; no model is needed.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
from pathlib import Path

import pytest

from agent.cli import main
from agent.privacy.backup import (
    SUBJECT_KEYS,
    BackupError,
    create_backup,
    decrypt_with_passphrase,
    restore_backup,
)
from agent.privacy.store import ConversationStore, sqlite_url
from agent.privacy.subjects import DataSubjects, ReferenceCodeError, open_data_subjects, open_keyring
from agent.settings import Settings, load_settings

PASSPHRASE = "correct horse battery staple"
CANARY = "Kanarienvogel 7731 wohnt in der Lindenstraße"


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("SUPPORT_AGENT_BACKUP_PASSPHRASE", PASSPHRASE)
    return load_settings(data_dir=tmp_path / "data")


def _customers(settings: Settings) -> tuple[str, str]:
    """(kept, canary): two consenting customers with one stored exchange each; the store is closed."""
    subjects = open_data_subjects(settings)
    kept, canary = subjects.consent_to_store(), subjects.consent_to_store()
    subjects.remember(kept, "Wie lange dauert der Versand?", "Zwei bis drei Werktage.")
    subjects.remember(canary, CANARY, "Dazu habe ich keinen Artikel.", refused=True)
    subjects.store.close()
    return kept, canary


def _open(settings: Settings) -> DataSubjects:
    return open_data_subjects(settings)


def _erase(settings: Settings, reference: str) -> None:
    subjects = _open(settings)
    subjects.erase(reference, actor="test")
    subjects.store.close()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_erased_after_the_backup_stays_erased_after_restore(settings: Settings, tmp_path: Path) -> None:
    kept, canary = _customers(settings)
    backup = tmp_path / "backup"
    assert main(["backup", "create", "--to", str(backup), "--data-dir", str(settings.data_dir)]) == 0
    assert CANARY not in b"".join(p.read_bytes() for p in backup.rglob("*") if p.is_file()).decode("latin-1")

    # The backup really holds the canary: opened with its passphrase and the master key, it is readable.
    keys = tmp_path / "control-keys.db"
    keys.write_bytes(decrypt_with_passphrase((backup / SUBJECT_KEYS).read_bytes(), PASSPHRASE))
    shutil.copy(backup / "conversations.db", tmp_path / "control.db")
    control = ConversationStore(sqlite_url(tmp_path / "control.db"), sqlite_url(keys), open_keyring(settings))
    assert [m.text for m in control.messages(canary)][0] == CANARY
    control.close()

    _erase(settings, canary)
    assert (
        main(["backup", "restore", "--from", str(backup), "--yes", "--data-dir", str(settings.data_dir)]) == 0
    )

    subjects = _open(settings)
    with pytest.raises(ReferenceCodeError):
        subjects.export(canary, actor="test")
    assert subjects.store.signals(("refused",)) == []  # the canary's gap entry went with it
    assert [m.text for m in subjects.store.messages(kept)][0] == "Wie lange dauert der Versand?"
    restored = [e for e in subjects.audit.entries() if e["event"] == "backup_restored"]
    assert restored[-1]["details"]["subjects_erased_again"] == [subjects.store.subject_id(canary)[:16]]
    assert subjects.audit.verify().ok
    assert list(settings.data_dir.glob("before-restore-*/conversations.db"))  # replaced, not deleted
    assert not list(settings.data_dir.glob("restore-*"))  # no staging copy left behind
    subjects.store.close()


def test_restore_into_an_empty_data_dir_brings_back_the_audit_trail(
    settings: Settings, tmp_path: Path
) -> None:
    kept, _ = _customers(settings)
    backup = create_backup(settings, tmp_path / "backup", PASSPHRASE, actor="test").folder
    master_key = (settings.data_dir / "keys" / "master.key").read_text()
    shutil.rmtree(settings.data_dir)  # the disk is gone; the master key was kept elsewhere
    (settings.data_dir / "keys").mkdir(parents=True, mode=0o700)
    (settings.data_dir / "keys" / "master.key").write_text(master_key)
    (settings.data_dir / "keys" / "master.key").chmod(0o600)

    report = restore_backup(settings, backup, PASSPHRASE, open_keyring(settings), actor="test")

    assert report.audit_from_backup and report.previous_files is None
    subjects = _open(settings)
    assert subjects.export(kept, actor="test")["messages"][1]["text"] == "Zwei bis drei Werktage."
    assert subjects.audit.verify().ok
    subjects.store.close()


def _unchanged(settings: Settings) -> str:
    return _digest(settings.store_path) + _digest(settings.key_store_path) + _digest(settings.audit_path)


def test_wrong_passphrase_other_master_key_or_altered_backup_change_nothing(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _customers(settings)
    backup = create_backup(settings, tmp_path / "backup", PASSPHRASE, actor="test").folder
    before = _unchanged(settings)
    restore = ["backup", "restore", "--from", str(backup), "--yes", "--data-dir", str(settings.data_dir)]

    monkeypatch.setenv("SUPPORT_AGENT_BACKUP_PASSPHRASE", "not the passphrase at all")
    assert main(restore) == 2
    assert "Wrong backup passphrase" in capsys.readouterr().err

    monkeypatch.setenv("SUPPORT_AGENT_BACKUP_PASSPHRASE", PASSPHRASE)
    other_key = base64.b64encode(os.urandom(32)).decode()
    monkeypatch.setenv("SUPPORT_AGENT_MASTER_KEY", other_key)
    assert main(restore) == 2
    assert "master key does not open" in capsys.readouterr().err
    monkeypatch.delenv("SUPPORT_AGENT_MASTER_KEY")

    conversations = backup / "conversations.db"
    conversations.write_bytes(conversations.read_bytes()[:-1] + b"\x01")
    assert main(restore) == 2
    assert "changed since the backup was made" in capsys.readouterr().err

    assert _unchanged(settings) == before
    assert not list(settings.data_dir.glob("before-restore-*")) and not list(
        settings.data_dir.glob("restore-*")
    )


def test_a_backup_from_another_installation_is_refused(settings: Settings, tmp_path: Path) -> None:
    _customers(settings)
    backup = create_backup(settings, tmp_path / "backup", PASSPHRASE, actor="test").folder
    settings.audit_path.write_text("")  # a trail that never saw this backup
    settings.audit_path.with_name("audit.head").unlink()
    with pytest.raises(BackupError, match="does not contain the entry the backup was taken at"):
        restore_backup(settings, backup, PASSPHRASE, open_keyring(settings), actor="test")


def test_backup_refuses_bad_requests(settings: Settings, tmp_path: Path) -> None:
    _customers(settings)
    with pytest.raises(BackupError, match="at least 12 characters"):
        create_backup(settings, tmp_path / "b1", "short", actor="test")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "something").write_text("x")
    with pytest.raises(BackupError, match="not empty"):
        create_backup(settings, tmp_path / "full", PASSPHRASE, actor="test")
    with pytest.raises(BackupError, match="not a backup folder"):
        restore_backup(settings, tmp_path / "full", PASSPHRASE, open_keyring(settings), actor="test")
    server = settings.model_copy(update={"conversation_store_url": "postgresql+psycopg://db/conv"})
    with pytest.raises(BackupError, match="pg_dump"):
        create_backup(server, tmp_path / "b2", PASSPHRASE, actor="test")


def test_replay_erasures_after_a_restore_done_with_database_tools(settings: Settings, tmp_path: Path) -> None:
    """The PostgreSQL path: dump, erase, restore the dump by hand, then replay since the dump's entry."""
    kept, canary = _customers(settings)
    seq, _ = _open(settings).audit.head()
    dump = tmp_path / "dump"
    dump.mkdir()
    for path in (settings.store_path, settings.key_store_path):
        shutil.copy(path, dump / path.name)
    _erase(settings, canary)
    for path in (settings.store_path, settings.key_store_path):
        shutil.copy(dump / path.name, path)
        for sidecar in ("-wal", "-shm"):
            path.with_name(path.name + sidecar).unlink(missing_ok=True)
    assert _open(settings).known(canary)  # the old copy brought the canary back

    command = ["privacy", "replay-erasures", "--since-seq", str(seq), "--data-dir", str(settings.data_dir)]
    assert main(command) == 0

    subjects = _open(settings)
    with pytest.raises(ReferenceCodeError):
        subjects.known(canary)
    assert subjects.known(kept)
    assert subjects.audit.entries()[-1]["event"] == "erasures_replayed"
    subjects.store.close()
