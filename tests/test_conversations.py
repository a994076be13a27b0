"""Encrypted conversation store: encryption at rest, crypto-shredding, master key handling, retention."""

from __future__ import annotations

import base64
import shutil
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from agent.errors import AgentError, ConfigError
from agent.privacy.cipher import SubjectCipher
from agent.privacy.crypto import (
    DecryptionError,
    Keyring,
    load_master_key,
    new_reference_code,
    normalise_reference_code,
    open_sealed,
)
from agent.privacy.store import ConversationStore, UnknownSubject, sqlite_url


def _store(tmp_path: Path, key: bytes | None = None) -> ConversationStore:
    key = key or load_master_key(tmp_path / "keys" / "master.key")
    return ConversationStore(
        sqlite_url(tmp_path / "conversations.db"),
        sqlite_url(tmp_path / "keys" / "subject-keys.db"),
        Keyring(key),
    )


def test_message_text_is_encrypted_at_rest(tmp_path: Path) -> None:
    store = _store(tmp_path)
    ref = new_reference_code()
    store.open_subject(ref, "v1")
    store.append(ref, "customer", "canary-51c0 wo ist mein Paket")
    assert [m.text for m in store.messages(ref)] == ["canary-51c0 wo ist mein Paket"]
    store.close()
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"canary-51c0" not in data, path
            assert ref.encode() not in data, path  # the reference code itself is never stored


def test_sealed_rows_keep_their_associated_data(tmp_path: Path) -> None:
    """Stores written by earlier versions must stay readable: every blob is bound to "{subject}|{purpose}"."""
    key = load_master_key(tmp_path / "keys" / "master.key")
    store = _store(tmp_path, key)
    ref = new_reference_code()
    subject = store.open_subject(ref, "v1")
    store.append(ref, "customer", "hallo")
    store.add_signal(ref, "refused", "frage")
    store.add_ticket(ref, "verlauf", "kim@example.org")
    store.close()
    with sa.create_engine(sqlite_url(tmp_path / "keys" / "subject-keys.db")).connect() as conn:
        wrapped = conn.exec_driver_sql("SELECT wrapped FROM subject_keys").scalar_one()
    data_key = Keyring(key).unwrap(wrapped, subject)
    with sa.create_engine(sqlite_url(tmp_path / "conversations.db")).connect() as conn:
        message = conn.exec_driver_sql("SELECT sealed FROM messages").scalar_one()
        signal = conn.exec_driver_sql("SELECT sealed FROM signals").scalar_one()
        transcript, contact = conn.exec_driver_sql(
            "SELECT sealed_transcript, sealed_contact FROM tickets"
        ).one()
    aead = AESGCM(data_key)
    assert open_sealed(aead, message, f"{subject}|customer".encode()) == b"hallo"
    assert open_sealed(aead, signal, f"{subject}|refused".encode()) == b"frage"
    assert open_sealed(aead, transcript, f"{subject}|transcript".encode()) == b"verlauf"
    assert open_sealed(aead, contact, f"{subject}|contact".encode()) == b"kim@example.org"
    with pytest.raises(DecryptionError):  # a blob does not open as another column or for another subject
        SubjectCipher(data_key, subject).open(contact, "transcript")
    with pytest.raises(DecryptionError):
        SubjectCipher(data_key, "another subject").open(message, "customer")


def test_master_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    key_file = tmp_path / "keys" / "master.key"
    first = load_master_key(key_file)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert load_master_key(key_file) == first
    key_file.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_master_key(key_file)


def test_master_key_from_env_text_and_bad_value(tmp_path: Path) -> None:
    key = base64.b64encode(bytes(range(32))).decode()
    assert load_master_key(tmp_path / "unused", key) == bytes(range(32))
    with pytest.raises(ConfigError, match="not base64 of 32 bytes"):
        load_master_key(tmp_path / "unused", "c2hvcnQ=")


def test_wrong_master_key_gives_a_clear_error_and_no_plaintext(tmp_path: Path) -> None:
    store = _store(tmp_path, bytes(32))
    ref = new_reference_code()
    store.open_subject(ref, "v1")
    store.append(ref, "customer", "hallo")
    store.close()
    with pytest.raises(AgentError, match="master key does not open"):
        _store(tmp_path, bytes([1]) * 32)


def test_erasure_shreds_backups_too(tmp_path: Path) -> None:
    store = _store(tmp_path)
    ref = new_reference_code()
    subject = store.open_subject(ref, "v1")
    store.append(ref, "customer", "meine Frage")
    store.append(ref, "assistant", "die Antwort")
    store.close()
    backup = tmp_path / "backup.db"
    shutil.copy(tmp_path / "conversations.db", backup)  # a nightly backup taken before the erasure
    store = _store(tmp_path)
    deletion = store.erase(subject)
    assert (deletion.messages, deletion.key_destroyed) == (2, True)
    with pytest.raises(UnknownSubject):
        store.messages(ref)
    old = sa.create_engine(sqlite_url(backup))
    with old.connect() as conn:  # the rows are in the backup …
        assert conn.exec_driver_sql("SELECT count(*) FROM messages").scalar_one() == 2
    with pytest.raises(UnknownSubject):
        store.read_sealed(old, subject)  # … but nobody can read them: the key is gone


def test_erased_rows_are_zeroed_not_left_in_free_pages(tmp_path: Path) -> None:
    store = _store(tmp_path)
    ref = new_reference_code()
    subject = store.open_subject(ref, "v1")
    store.append(ref, "customer", "x" * 2000)
    with sa.create_engine(sqlite_url(tmp_path / "conversations.db")).connect() as conn:
        sealed = conn.exec_driver_sql("SELECT sealed FROM messages").scalar_one()
    store.erase(subject)
    store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.rglob("*.db*"))
    assert sealed[:64] not in raw


def test_expired_subjects_follow_the_last_message(tmp_path: Path) -> None:
    store = _store(tmp_path)
    old, recent = new_reference_code(), new_reference_code()
    now = datetime.now(UTC)
    store.open_subject(old, "v1", now=now - timedelta(days=40))
    store.open_subject(recent, "v1", now=now - timedelta(days=40))
    store.append(recent, "customer", "still here", now=now - timedelta(days=2))
    assert store.expired(30) == [store.subject_id(old)]


def test_reference_codes_are_random_and_forgiving_to_type() -> None:
    codes = {new_reference_code() for _ in range(200)}
    assert len(codes) == 200
    code = next(iter(codes))
    assert normalise_reference_code(code.lower().replace("-", " ")) == code
    assert normalise_reference_code("not a code") is None
