"""Retention per category: each kind of stored data is deleted after its own period, not before."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from agent.clock import utc_now
from agent.errors import ConfigError
from agent.privacy.subjects import open_data_subjects
from agent.settings import load_settings
from tests.conftest import make_settings

DAY = timedelta(days=1)
ERASED = "erasure_by_retention"


def test_each_category_is_purged_at_its_own_period_and_not_before(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        retention_days=10,
        ticket_retention_days=20,
        feedback_retention_days=40,
        audit_retention_days=100,
    )
    subjects = open_data_subjects(settings)
    store = subjects.store
    chat_only = subjects.consent_to_store()
    subjects.remember(chat_only, "Wo ist mein Paket?", "Die Sendungsverfolgung …")
    rated = subjects.consent_to_store()
    subjects.remember(rated, "Gibt es Gutscheine?", "Dazu finde ich nichts.")
    subjects.rate(rated, "Gibt es Gutscheine?", helpful=False)
    handed = subjects.consent_to_store()
    subjects.remember(handed, "Mein Paket ist beschädigt", "Das gebe ich weiter.")
    done_ticket, _ = subjects.open_ticket(handed, "Mein Paket ist beschädigt", "kim@example.org")
    store.close_ticket(done_ticket, by="lead")
    _, waiting = subjects.open_ticket(None, "Rückruf bitte", "+49 171 2345678")  # stays open
    start = utc_now()

    def purge(days: int) -> dict[str, int]:
        return subjects.purge(actor="test", now=start + days * DAY)

    nothing = purge(9)
    assert nothing["expired_conversations_erased"] == nothing["expired_messages_deleted"] == 0
    assert nothing["handoff_tickets_deleted"] == nothing["feedback_deleted"] == 0
    assert len(store.messages(chat_only)) == 2

    # day 11: conversations expire. A subject with a ticket or feedback keeps those (and its key),
    # only its messages go; a subject with nothing else is erased entirely.
    day11 = purge(11)
    assert (day11["expired_conversations_erased"], day11["expired_messages_deleted"]) == (1, 4)
    with pytest.raises(Exception, match="No stored conversation"):
        store.consent(chat_only)
    assert store.messages(rated) == [] and store.messages(handed) == []
    assert [s.kind for s in store.signals(("thumbs_down",))] == ["thumbs_down"]
    assert [t.id for t in store.tickets(status="done")] == [done_ticket]
    assert day11["handoff_tickets_deleted"] == day11["feedback_deleted"] == 0

    # day 21: the done ticket is past its period; the open one is kept (and counted)
    day21 = purge(21)
    assert (day21["handoff_tickets_deleted"], day21["open_tickets_past_period"]) == (1, 1)
    assert day21["expired_conversations_erased"] == 1  # the handed-over subject had nothing else left
    assert store.tickets(status="done") == [] and len(store.tickets(status="open")) == 1
    assert store.signals(("thumbs_down",))

    # day 41: the feedback is past its period, and with it the last row of its subject
    day41 = purge(41)
    assert (day41["feedback_deleted"], day41["expired_conversations_erased"]) == (1, 1)
    assert store.signals(("thumbs_down",)) == []
    assert store.consent(waiting)  # an open ticket keeps its subject
    events = [e["event"] for e in subjects.audit.entries()]
    assert events.count(ERASED) == 3 and events.count("purge") == 4
    assert day41["audit_entries_pruned"] == 0

    # day 101: audit entries older than the audit period are pruned; the trail still verifies
    day101 = purge(101)
    assert day101["audit_entries_pruned"] == len(events)
    assert [e["event"] for e in subjects.audit.entries()] == ["audit_pruned", "purge"]
    assert subjects.audit.verify().ok


def test_simulation_uploads_and_reports_are_purged_after_their_period(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, simulation_retention_days=5)
    subjects = open_data_subjects(settings)
    run = settings.data_dir / "simulations" / "20261101-120000-live-answers"
    run.mkdir(parents=True)
    (run / "summary.json").write_text("{}")
    (run / "results.jsonl").write_text('{"question": "[EMAIL] wo ist mein Paket"}\n')
    upload = settings.temp_dir / "3f2a9c" / "past-tickets.csv"  # where the console's upload lands
    upload.parent.mkdir(parents=True)
    upload.write_text("question,expected_article\nWo ist mein Paket?,de-versand\n")
    fresh = settings.temp_dir / "77b1e0" / "new-tickets.csv"
    fresh.parent.mkdir(parents=True)
    fresh.write_text("question\nHallo\n")
    served = settings.temp_dir / "a41c07" / "logo.png"  # a file Gradio may still serve: not an upload
    served.parent.mkdir(parents=True)
    served.write_bytes(b"\x89PNG")

    def age(days: float, *paths: Path) -> None:
        moment = (utc_now() - days * DAY).timestamp()
        for path in paths:
            os.utime(path, (moment, moment))

    age(4, upload, run / "summary.json", run / "results.jsonl", run)
    kept = subjects.purge(actor="test")
    assert (kept["simulation_uploads_deleted"], kept["simulation_runs_deleted"]) == (0, 0)
    assert upload.exists() and run.exists()

    age(6, upload, run / "summary.json", run / "results.jsonl", run, served)
    purged = subjects.purge(actor="test")
    assert (purged["simulation_uploads_deleted"], purged["simulation_runs_deleted"]) == (1, 1)
    assert not upload.parent.exists() and not run.exists()
    assert fresh.exists() and served.exists()  # written today; not a simulation upload
    assert subjects.audit.entries()[-1]["details"]["simulation_runs_deleted"] == 1


def test_retention_periods_are_checked() -> None:
    settings = load_settings()
    assert settings.retention_periods() == {
        "conversations": 30,
        "handoff tickets": 90,
        "feedback": 90,
        "simulation uploads and reports": 30,
        "answer statistics (anonymous)": 400,
        "audit trail": 730,
    }
    with pytest.raises(ConfigError, match="audit_retention_days .60. is shorter than ticket_retention_days"):
        load_settings(audit_retention_days=60)
    with pytest.raises(ConfigError, match="feedback_retention_days"):
        load_settings(feedback_retention_days=0)


def test_purge_deletes_data_but_keeps_a_tampered_audit_trail(tmp_path: Path) -> None:
    subjects = open_data_subjects(make_settings(tmp_path, retention_days=10, audit_retention_days=100))
    code = subjects.consent_to_store()
    lines = subjects.audit.path.read_text().splitlines()
    subjects.audit.path.write_text(lines[0].replace('"store"', '"no_store"') + "\n")
    result = subjects.purge(actor="test", now=utc_now() + 101 * DAY)
    assert result["expired_conversations_erased"] == 1 and result["audit_entries_pruned"] == 0
    assert "does not verify" in result["audit_not_pruned"]
    with pytest.raises(Exception, match="No stored conversation"):
        subjects.store.consent(code)
    assert "consent_given" in subjects.audit.path.read_text()  # the evidence stays
