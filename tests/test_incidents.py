"""Breach evidence (Art. 33) from the real store and audit trail, and security alerts to a real webhook."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from agent.cli import main
from agent.runtime.alerts import SecurityWatch
from agent.runtime.egress import EgressBlocked
from agent.runtime.metrics import AUDIT_CHAIN_INTACT, SECURITY_ALERTS
from agent.staff.accounts import LoginRefused
from agent.wiring import build_services
from tests.conftest import make_settings

PASSWORD = "correct horse battery staple"
SECRET_QUESTION = "Meine Bestellung 4711 an Frau Kowalski"


class Receiver(BaseHTTPRequestHandler):
    """The company's alerting endpoint, on loopback."""

    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        Receiver.received.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Receiver.received = []
    yield f"http://127.0.0.1:{server.server_port}/alerts"
    server.shutdown()


def test_incident_report_counts_subjects_and_evidence_without_content(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(tmp_path)
    services = build_services(settings)
    subjects = services.subjects
    kept, erased = subjects.consent_to_store(), subjects.consent_to_store()
    subjects.remember(kept, SECRET_QUESTION, "Die Lieferung dauert zwei Tage.")
    subjects.open_ticket(kept, SECRET_QUESTION, "jana@example.de")
    subjects.remember(erased, "Kann ich auf Rechnung zahlen?", "Ja.")
    subjects.erase(erased, actor="test")
    subjects.export(kept, actor="customer")
    services.staff_services.add_user("tom", "support_lead", PASSWORD, "test")
    with pytest.raises(LoginRefused):
        services.staff_services.login("tom", "not the password")

    assert main(["privacy", "incident", "--since", "2020-01-01", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    facts = json.loads(out[: out.index("\n}\n") + 2])
    assert facts["stored"] == {
        "subjects": 1, "messages": 2, "tickets": 1, "signals": 0, "subjects_active_in_window": 1,
    }  # fmt: skip
    assert facts["subjects_erased_in_window"] == 1 and facts["failed_logins"] == 1
    assert facts["audit_chain"].startswith("intact") and facts["events"]["data exports"] == 1
    assert "INSIDE the data dir" in facts["master_key"]  # the default key file: said plainly
    assert "Approximate number of data subjects: 1 stored now" in out and settings.controller in out
    for secret in (SECRET_QUESTION, "jana@example.de", kept, erased):
        assert secret not in out
    assert subjects.audit.entries()[-1]["event"] == "incident_report"

    assert main(["privacy", "incident", "--since", "last tuesday", "--data-dir", str(tmp_path)]) == 2
    assert "is not a date or time" in capsys.readouterr().err  # a clear error, no traceback


def test_security_alerts_reach_the_webhook_once_per_occurrence(tmp_path: Path, receiver: str) -> None:
    settings = make_settings(tmp_path, alert_webhook_url=receiver, alert_failed_logins_per_hour=3)
    services = build_services(settings)
    watch = SecurityWatch(settings, services.audit)
    before = {k: SECURITY_ALERTS.labels(k)._value.get() for k in ("egress_blocked", "failed_logins")}
    assert watch.check() == []

    with pytest.raises(EgressBlocked):  # the real guard of this process refuses an undeclared host
        socket.create_connection(("192.0.2.1", 9), timeout=2)
    services.staff_services.add_user("tom", "support_lead", PASSWORD, "test")
    for _ in range(3):
        with pytest.raises(LoginRefused):
            services.staff_services.login("tom", "wrong password!!")
    assert sorted(watch.check()) == ["egress_blocked", "failed_logins"]
    assert watch.check() == []  # each occurrence is reported once

    lines = services.audit.path.read_text().splitlines()
    edited = json.loads(lines[0])
    edited["actor"] = "someone else"
    services.audit.path.write_text("\n".join([json.dumps(edited), *lines[1:]]) + "\n")
    assert watch.check() == ["audit_chain_broken"]
    assert AUDIT_CHAIN_INTACT._value.get() == 0
    assert watch.check() == []  # still broken: no second alert

    assert [a["kind"] for a in Receiver.received] == ["egress_blocked", "failed_logins", "audit_chain_broken"]
    assert Receiver.received[0]["details"] == {"attempts": 1, "hosts": ["192.0.2.1"]}
    assert "tom" not in json.dumps(Receiver.received)  # counts only
    for kind in before:
        assert SECURITY_ALERTS.labels(kind)._value.get() == before[kind] + 1
    alerts = [e for e in services.audit.entries() if e["event"] == "security_alert"]
    assert [(e["details"]["kind"], e["details"]["delivered"]) for e in alerts] == [
        ("egress_blocked", True), ("failed_logins", True), ("audit_chain_broken", True),
    ]  # fmt: skip
