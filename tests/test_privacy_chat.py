"""The GDPR lifecycle through the real chat app (gradio_client over HTTP) and the real CLI."""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from agent.answering.assistant import SupportAgent
from agent.cli import main
from agent.knowledge.embeddings import Embedder
from agent.privacy.audit import AuditLog
from agent.privacy.crypto import new_reference_code
from agent.privacy.subjects import DataSubjects
from agent.settings import Settings
from agent.wiring import build_services
from tests.conftest import make_settings
from tests.support import BackgroundServer, files_containing, message_text, wait_until
from ui.app import create_app

CANARY = "canary-3f9e1c"
EMAIL = "jana.kowalski@example.de"
PHONE = "0171 2345678"


@dataclass
class App:
    url: str
    settings: Settings
    agent: SupportAgent
    subjects: DataSubjects

    def client(self):  # noqa: ANN201 - gradio_client.Client
        from gradio_client import Client

        return Client(self.url, verbose=False, download_files=False)


@pytest.fixture(scope="module")
def app(demo_data_dir: Path, tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[App]:
    data_dir = tmp_path_factory.mktemp("privacy-data")
    shutil.copytree(demo_data_dir / "index", data_dir / "index")
    services = build_services(make_settings(data_dir), embedder=embedder)
    server = BackgroundServer(create_app(services))
    try:
        yield App(server.start(), services.settings, services.agent, services.subjects)
    finally:
        server.stop()


def test_consent_is_required_before_the_first_answer(app: App) -> None:
    client = app.client()
    box, chat = client.predict("How long do I have to return an item?", api_name="/chat")
    assert box == "How long do I have to return an item?"  # the question is kept, not lost
    assert len(chat) == 1 and "Please choose above first" in message_text(chat[0])
    assert "Source" not in message_text(chat[0])


def test_page_shows_the_notice_and_links_the_privacy_page(app: App) -> None:
    page = httpx.get(app.url, timeout=30).text
    assert "Chat without storing anything" in page and "Chat and keep my conversation" in page
    privacy = httpx.get(app.url + "privacy", timeout=30)
    assert privacy.status_code == 200
    assert "Art. 17" in privacy.text and app.settings.privacy_contact in privacy.text
    assert "content-security-policy" in privacy.headers


def test_chat_without_storing_writes_no_row(app: App) -> None:
    before = _rows(app.settings)
    client = app.client()
    note, code, chat, _ = client.predict(api_name="/consent_none")
    assert "Nothing is stored" in note and code == ""
    _, chat = client.predict(f"{CANARY} How long do I have to return an item?", api_name="/chat")
    assert "Source:" in message_text(chat[-1])
    assert _rows(app.settings) == before
    last = AuditLog(app.settings.audit_path).entries()[-1]
    assert (last["event"], last["details"]["choice"]) == ("consent_given", "no_store")


def test_personal_data_is_redacted_before_model_store_and_page(app: App) -> None:
    client = app.client()
    _, code, *_ = client.predict(api_name="/consent_store")
    _, chat = client.predict(
        f"Meine Nummer ist {PHONE}, Mail {EMAIL}. Wie lange dauert die Erstattung?", api_name="/chat"
    )
    shown = message_text(chat[0]) + message_text(chat[1])
    assert "[PHONE]" in shown and "[EMAIL]" in shown and "Personenbezogene Daten wurden" in shown
    assert PHONE not in shown and EMAIL not in shown
    stored = " ".join(m.text for m in app.subjects.store.messages(code))
    assert "[EMAIL]" in stored and EMAIL not in stored and PHONE not in stored


def test_erasure_canary_leaves_no_trace(app: App, caplog: pytest.LogCaptureFixture) -> None:
    client = app.client()
    with caplog.at_level(logging.DEBUG):
        note, code, *_ = client.predict(api_name="/consent_store")
        assert code in note
        _, chat = client.predict(f"{CANARY} mail {EMAIL}: how do I return an item?", api_name="/chat")
        assert "Source:" in message_text(chat[-1])
        status, data_file = client.predict(code, api_name="/download_my_data")
        export = httpx.get(data_file["url"], timeout=30).json()
        assert export["reference_code"] == code and CANARY in export["messages"][0]["text"]
        assert EMAIL not in json.dumps(export)
        # the scan sees the canary while it exists (in the download copy), so zero hits later mean gone
        assert files_containing(app.settings, CANARY.encode())
        llm = app.agent._generator._llm  # the in-process model still holds the last prompt
        assert llm.n_tokens > 0

        receipt_text, _, *_ = client.predict(code, api_name="/delete_my_data")
        assert "Deleted: 2 messages" in receipt_text

    for needle in (CANARY, EMAIL, code):
        assert files_containing(app.settings, needle.encode()) == [], needle
        assert needle not in caplog.text, needle
    assert llm.n_tokens == 0 and not llm.input_ids.any()  # prompt and KV state wiped
    with pytest.raises(Exception, match="No stored conversation"):
        app.subjects.export(code, actor="test")
    events = [e["event"] for e in AuditLog(app.settings.audit_path).entries()]
    assert events[-3:] == ["consent_given", "export", "erasure"]
    assert AuditLog(app.settings.audit_path).verify().ok


def test_withdrawing_consent_is_one_click_and_erases(app: App) -> None:
    client = app.client()
    _, code, *_ = client.predict(api_name="/consent_store")
    client.predict("Kann ich auf Rechnung zahlen?", api_name="/chat")
    assert len(app.subjects.store.messages(code)) == 2
    note, code_after, chat = client.predict(api_name="/withdraw")
    assert (note, code_after, chat) == ("", "", [])
    with pytest.raises(Exception, match="No stored conversation"):
        app.subjects.store.messages(code)
    _, chat = client.predict("Kann ich auf Rechnung zahlen?", api_name="/chat")
    assert "Please choose above first" in message_text(chat[-1])  # no consent any more: no answer
    assert AuditLog(app.settings.audit_path).entries()[-1]["event"] == "consent_withdrawn"


def test_wrong_reference_code_gets_a_clear_message(app: App) -> None:
    client = app.client()
    status, data_file = client.predict("ZZZZ-ZZZZ-ZZZZ-ZZZZ", api_name="/download_my_data")
    assert "No stored conversation" in status and data_file is None
    status, *_ = client.predict("hello", api_name="/delete_my_data")
    assert "not a reference code" in status


def test_cli_export_erase_and_purge(
    app: App, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = ["--data-dir", str(app.settings.data_dir)]
    subjects = app.subjects
    code = subjects.consent_to_store()
    subjects.remember(code, "Wo ist mein Paket?", "Die Sendungsverfolgung …")
    out = app.settings.data_dir.parent / "export.json"
    assert main(["privacy", "export", "--subject", code, "--out", str(out), *data]) == 0
    assert json.loads(out.read_text())["messages"][0]["text"] == "Wo ist mein Paket?"
    out.unlink()

    # without --yes the CLI asks; anything but "yes" erases nothing
    monkeypatch.setattr("sys.stdin", io.StringIO("no\n"))
    assert main(["privacy", "erase", "--subject", code, *data]) == 1
    assert "nothing erased" in capsys.readouterr().out
    assert subjects.store.messages(code)
    assert main(["privacy", "erase", "--subject", code, "--yes", *data]) == 0
    receipt = json.loads(capsys.readouterr().out)
    assert receipt["messages_deleted"] == 2 and receipt["subject_key_destroyed"] is True
    assert code not in json.dumps(receipt)

    old = new_reference_code()  # a conversation whose last message is past the retention period
    subjects.store.open_subject(
        old, "v1", now=datetime.now(UTC) - timedelta(days=app.settings.retention_days + 1)
    )
    fresh = subjects.consent_to_store()
    assert main(["privacy", "purge", *data]) == 0
    assert json.loads(capsys.readouterr().out)["expired_conversations_erased"] == 1
    assert subjects.store.consent(fresh)
    with pytest.raises(Exception, match="No stored conversation"):
        subjects.store.consent(old)
    entries = AuditLog(app.settings.audit_path).entries()
    assert [e["event"] for e in entries[-2:]] == ["erasure_by_retention", "purge"]
    assert entries[-1]["actor"].startswith("cli:")


def test_art30_record_from_live_configuration(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    env = {"SUPPORT_AGENT_RETENTION_DAYS": "14", "SUPPORT_AGENT_REDACTION_TYPES": '["EMAIL","IBAN"]'}
    os.environ.update(env)
    try:
        assert main(["privacy", "record", "--data-dir", str(tmp_path)]) == 0
    finally:
        for name in env:
            os.environ.pop(name)
    record = capsys.readouterr().out
    assert "Art. 30" in record and "14 days" in record and "EMAIL, IBAN" in record
    assert "multilingual-e5-small" in record and str(tmp_path / "conversations.db") in record


def _rows(settings: Settings) -> tuple[int, int]:
    db = sqlite3.connect(settings.store_path)
    try:
        return (
            db.execute("SELECT count(*) FROM subjects").fetchone()[0],
            db.execute("SELECT count(*) FROM messages").fetchone()[0],
        )
    finally:
        db.close()


def test_server_purges_expired_conversations_on_a_schedule(tmp_path: Path) -> None:
    from ui.app import purge_schedule

    subjects = build_services(make_settings(tmp_path, retention_days=7)).subjects
    old = new_reference_code()
    subjects.store.open_subject(old, "v1", now=datetime(2020, 1, 1, tzinfo=UTC))
    schedule = purge_schedule(subjects, interval_s=0.2)
    schedule.start()
    try:
        wait_until(
            lambda: sum(e["event"] == "purge" for e in subjects.audit.entries()) >= 2,
            timeout_s=20,
            what="the schedule running twice",
        )
    finally:
        schedule.stop()
    with pytest.raises(Exception, match="No stored conversation"):
        subjects.store.consent(old)
    purges = [e for e in subjects.audit.entries() if e["event"] == "purge"]
    assert purges[0]["details"]["expired_conversations_erased"] == 1
    assert purges[0]["actor"] == "retention-schedule"


def test_configuration_changes_are_audited_by_name(tmp_path: Path) -> None:
    from agent.privacy.config_audit import record_configuration

    audit = AuditLog(tmp_path / "audit.jsonl")
    settings = make_settings(tmp_path, master_key="A" * 43 + "=")
    assert "retention_days" in record_configuration(settings, audit)
    assert record_configuration(settings, audit) == []  # unchanged: nothing new recorded
    changed = record_configuration(settings.model_copy(update={"retention_days": 90}), audit)
    assert changed == ["retention_days"]
    digests = json.loads(audit.entries()[0]["details"]["digests"])
    assert "retention_days" in digests and "master_key" not in digests  # the secret is never in the trail
    assert "AAAA" not in audit.path.read_text()
    assert [e["event"] for e in audit.entries()] == ["configuration_change"] * 2


def _download(client, code: str) -> dict:  # noqa: ANN001 - gradio_client.Client
    _, data_file = client.predict(code, api_name="/download_my_data")
    return httpx.get(data_file["url"], timeout=30).json()


def test_rectify_restrict_and_object_from_my_data(app: App) -> None:
    """Art. 16, 18 and 21 through the page's "My data" panel, each audited and in the export."""
    client, store = app.client(), app.subjects.store
    _, code, *_ = client.predict(api_name="/consent_store")
    client.predict("Wie lange dauert die Erstattung?", api_name="/chat")
    client.predict(api_name="/rate_down")
    client.predict("kunde@example.de", True, api_name="/handoff")
    export = _download(client, code)
    first, ticket = export["messages"][0]["number"], export["handoff_tickets"][0]["number"]

    status, box = client.predict(
        code,
        "message",
        first,
        f"Wie lange dauert die Erstattung bei Ratenkauf? {EMAIL}",
        api_name="/correct_my_data",
    )
    assert status == f"✅ Number {first} is corrected." and box == ""
    client.predict(code, "contact", ticket, "neu@example.de", api_name="/correct_my_data")
    _, other, *_ = app.client().predict(api_name="/consent_store")
    status, box = client.predict(other, "message", first, "not mine", api_name="/correct_my_data")
    assert "no message number" in status and box == "not mine"  # another customer's message: refused
    export = _download(client, code)
    assert export["messages"][0]["text"] == "Wie lange dauert die Erstattung bei Ratenkauf? [EMAIL]"
    assert export["handoff_tickets"][0]["contact"] == "neu@example.de"

    # Objection to "improve the help center": the 👎 goes, later ratings are not kept, chatting goes on.
    assert len(store.signals(("thumbs_down",), store.subject_id(code))) == 1
    assert "no longer used to improve" in client.predict(code, "object", api_name="/my_data_request")
    client.predict(api_name="/rate_down")
    assert store.signals(("thumbs_down",), store.subject_id(code)) == []

    # Restriction: kept, hidden from the support lead's inbox, nothing new stored, no new handoff.
    stored = len(store.messages(code))
    assert "Restricted" in client.predict(code, "restrict", api_name="/my_data_request")
    assert ticket not in [t.id for t in app.subjects.store.tickets(status="open")]
    client.predict("Kann ich auf Rechnung zahlen?", api_name="/chat")
    assert len(store.messages(code)) == stored
    assert "You restricted" in client.predict("kunde@example.de", True, api_name="/handoff")
    export = _download(client, code)
    assert export["processing_restricted_since"] and export["objected_to_improving_the_help_center_since"]
    assert [r["request"] for r in export["requests"]] == [
        "rectification",
        "rectification",
        "objection",
        "restriction",
    ]
    client.predict(code, "lift", api_name="/my_data_request")
    assert ticket in [t.id for t in app.subjects.store.tickets(status="open")]

    audit = AuditLog(app.settings.audit_path)
    assert audit.verify().ok
    rights = [e for e in audit.entries() if e["event"] in ("rectification", "restriction", "objection")]
    assert {e["details"]["subject"] for e in rights} == {store.subject_id(code)[:16]}
    assert EMAIL not in audit.path.read_text() and "neu@example.de" not in audit.path.read_text()


def test_cli_rectify_restrict_and_object(
    app: App, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = ["--data-dir", str(app.settings.data_dir)]
    subjects = app.subjects
    code = subjects.consent_to_store()
    subjects.remember(code, "Wo ist mein Paket?", "Dazu habe ich keinen Artikel.", refused=True)
    number = subjects.store.messages(code)[0].id
    monkeypatch.setattr("sys.stdin", io.StringIO(f"Wo ist mein zweites Paket? {EMAIL}\n"))
    assert main(["privacy", "rectify", "--subject", code, "--message", str(number), *data]) == 0
    assert subjects.store.messages(code)[0].text == "Wo ist mein zweites Paket? [EMAIL]"
    assert main(["privacy", "rectify", "--subject", code, *data]) == 2  # which one: --message or --ticket
    assert main(["privacy", "object", "--subject", code, *data]) == 0
    assert subjects.store.signals(("refused",), subjects.store.subject_id(code)) == []
    assert main(["privacy", "restrict", "--subject", code, *data]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["restricted_since"]
    assert main(["privacy", "lift-restriction", "--subject", code, *data]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["restricted_since"] is None
    events = [e["event"] for e in AuditLog(app.settings.audit_path).entries()[-4:]]
    assert events == ["rectification", "objection", "restriction", "restriction_lifted"]
