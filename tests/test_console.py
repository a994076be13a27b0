"""The staff console through the real app: login and lockout, two-factor login and enrolment, role
isolation for every action, handoff round trip, knowledge gaps, simulations, privacy requests, and the
page in headless Chromium."""

from __future__ import annotations

import html
import io
import json
import re
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest

from agent.cli import main
from agent.privacy.subjects import DataSubjects
from agent.settings import Settings
from agent.staff.accounts import ROLE_ACTIONS, ROLES, StaffDirectory
from agent.wiring import build_services
from tests.browser import chromium_page, expect, screenshot
from tests.conftest import KNOWLEDGE_DIR, make_settings
from tests.support import BackgroundServer, console_client
from ui.app import create_app

PASSWORD = "correct horse battery staple"
# Arguments for every console action (the server refuses before it looks at them).
ACTION_ARGS: dict[str, tuple[Any, ...]] = {
    "overview": ("last 7 days", "per day"),
    "knowledge_status": ("all", "all", "all"),
    "reindex": (),
    "gaps": (),
    "simulate": (None, str(KNOWLEDGE_DIR), True),
    "simulation_compare": ("a", "b"),
    "drafts_list": (),
    "drafts_simulate": (None, True),
    "articles_publish": (["x"], False, True),
    "articles_unpublish": (["x"], True),
    "article_versions": ("x",),
    "article_diff": ("x", 1, 2),
    "article_rollback": ("x", 1, True),
    "handoff_inbox": (),
    "handoff_done": (1,),
    "import_run": (None, "http://127.0.0.1:9/sitemap.xml", "general", "auto"),
    "import_conflicts": (),
    "import_resolve": ("some-draft.md", "keep mine"),
    "curated_list": (),
    "curated_pick": (1,),
    "curated_load": (1,),
    "curated_save": (None, "Can I return sale items?", "Yes, within 30 days.", "en", "en-returns", True),
    "curated_remove": (1, True),
    "privacy_find": ("7KQM-2XTP-9RWA-HC4D",),
    "privacy_export": ("7KQM-2XTP-9RWA-HC4D",),
    "privacy_erase": ("7KQM-2XTP-9RWA-HC4D", False),
    "privacy_limit": ("7KQM-2XTP-9RWA-HC4D", "restrict"),
    "privacy_rectify": ("7KQM-2XTP-9RWA-HC4D", "message", 1, "text"),
    "privacy_records": (),
    "privacy_incident": ("2026-01-01",),
    "retention_view": (),
    "audit_view": (),
    "audit_verify": (),
    "redaction_stats": (),
    "users_list": (),
    "users_add": ("someone", "admin", PASSWORD),
    "users_remove": ("someone",),
    "users_reset": ("someone", PASSWORD),
    "config_view": (),
    "backup_create": ("/tmp/never", PASSWORD),
}


class Hook(BaseHTTPRequestHandler):
    """The company's helpdesk webhook, on loopback."""

    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["content-length"]))
        Hook.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


class SteppingClock:
    """The two-factor clock of the test site: each login moves it on by one 30-second TOTP step, so the
    same accounts can log in many times a minute without ever replaying a code."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def code(self, secret: str) -> str:
        """The next step's code for `secret`."""
        self.now += 30
        return pyotp.TOTP(secret).at(self.now)


@dataclass
class Site:
    url: str
    settings: Settings
    subjects: DataSubjects
    staff: StaffDirectory
    clock: SteppingClock
    secrets: dict[str, str]  # user name → TOTP secret of the accounts that log in with a code

    def login(self, username: str, password: str = PASSWORD) -> httpx.Response:
        """The login form, and the code page after it for an account with an authenticator."""
        response = self.password_step(username, password)
        if username in self.secrets and response.status_code == 200:
            return self.code_step(response, self.clock.code(self.secrets[username]))
        return response

    def password_step(self, username: str, password: str = PASSWORD) -> httpx.Response:
        return httpx.post(
            self.url + "admin/login",
            data={"username": username, "password": password},
            follow_redirects=False,
        )

    def code_step(self, page: httpx.Response, code: str) -> httpx.Response:
        """Send `code` with the second-step token of a code or enrolment page."""
        step = html.unescape(re.search(r'name="step" value="([^"]+)"', page.text).group(1))
        return httpx.post(
            self.url + "admin/login/code", data={"step": step, "code": code}, follow_redirects=False
        )

    def console(self, username: str):  # noqa: ANN201 - gradio_client.Client

        return console_client(self.url, self.login(username).cookies["staff_session"])

    def customer(self):  # noqa: ANN201
        from gradio_client import Client

        return Client(self.url, verbose=False, download_files=False)


@pytest.fixture(scope="module")
def site(demo_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    hook = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    data_dir = tmp_path_factory.mktemp("console-data")
    shutil.copytree(demo_data_dir / "index", data_dir / "index")
    drafts = tmp_path_factory.mktemp("drafts") / "knowledge-drafts"
    shutil.copytree(Path(__file__).resolve().parent.parent / "knowledge", drafts)
    settings = make_settings(
        data_dir,
        handoff_webhook_url=f"http://127.0.0.1:{hook.server_port}/hook",
        draft_knowledge_dirs=[drafts],
        max_failed_logins=3,
    )
    services = build_services(settings)
    clock = SteppingClock()
    services.staff.two_factor.clock = clock
    secrets: dict[str, str] = {}
    for role in ROLES:
        services.staff.add(role.replace("_", "-"), role, PASSWORD)
        if services.staff.requires_two_factor(role):  # privacy officer and admin, by default
            secrets[role.replace("_", "-")] = services.staff.two_factor.enable(role.replace("_", "-")).secret
    server = BackgroundServer(create_app(services))
    try:
        yield Site(server.start(), settings, services.subjects, services.staff, clock, secrets)
    finally:
        server.stop()
        hook.shutdown()


def test_login_wrong_password_and_lockout(site: Site) -> None:
    site.staff.add("tom", "support_lead", PASSWORD)
    refused = site.login("tom", "wrong password!!")
    assert refused.status_code == 401 and "Wrong user name or password" in refused.text
    assert site.login("nobody", "whatever").status_code == 401  # same answer for unknown users
    site.login("tom", "wrong again!!!!")
    locked = site.login("tom", "third time wrong")
    assert "locked" in locked.text
    assert "locked" in site.login("tom", PASSWORD).text  # even the right password, while locked
    events = [(e["event"], e["details"].get("ok")) for e in site.subjects.audit.entries()]
    assert events.count(("staff_login", False)) >= 5
    # an admin unlocks it by setting a new password (CLI, password from stdin)
    args = ["users", "reset-password", "tom", "--password-stdin", "--data-dir", str(site.settings.data_dir)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stdin", io.StringIO("a brand new password\n"))
        assert main(args) == 0
    assert site.login("tom", "a brand new password").status_code == 303


def test_two_factor_login_through_the_login_pages(site: Site) -> None:
    secret = site.secrets["admin"]
    page = site.password_step("admin")  # the right password alone: the code page, no session
    assert page.status_code == 200 and 'id="code"' in page.text and "staff_session" not in page.cookies
    assert page.headers["cache-control"] == "no-store"
    wrong = site.code_step(page, pyotp.TOTP(secret).at(site.clock.now + 3600))
    assert wrong.status_code == 401 and "Wrong user name or password" in wrong.text  # as for a password
    assert site.code_step(page, site.clock.code(secret)).status_code == 401  # the step token works once
    refused = [e for e in site.subjects.audit.entries() if e["event"] == "staff_login"][-2:]
    assert [(e["actor"], e["details"]["ok"], e["details"]["step"]) for e in refused] == [
        ("staff:admin", False, "code"),
        ("staff:-", False, "code"),  # a used-up step token names nobody
    ]

    code = site.clock.code(secret)
    good = site.code_step(site.password_step("admin"), code)
    assert good.status_code == 303 and good.headers["location"] == "/admin/" and good.cookies["staff_session"]
    assert site.code_step(site.password_step("admin"), code).status_code == 401  # replayed
    logins = [e["details"] for e in site.subjects.audit.entries() if e["event"] == "staff_login"]
    assert logins[-2:] == [
        {"ok": True, "role": "admin", "factor": "totp"},
        {"ok": False, "reason": "Wrong user name or password.", "step": "code"},
    ]
    assert code not in json.dumps(site.subjects.audit.entries())


def test_enrolment_in_headless_chromium(site: Site) -> None:
    site.staff.add("pia", "privacy_officer", PASSWORD)  # a required role, no authenticator yet
    requests: list[str] = []
    with chromium_page(requests) as page:
        page.goto(site.url + "admin/")
        page.locator("#username").fill("pia")
        page.locator("#password").fill(PASSWORD)
        page.locator("#login").click()
        expect(page.get_by_role("heading", name="Set up two-factor login")).to_be_visible()
        expect(page.locator("svg")).to_be_visible()  # the QR code, inline
        secret = page.locator("#secret").inner_text().replace(" ", "")
        screenshot(page, "console-enrolment.png")
        page.locator("#code").fill(site.clock.code(secret))
        page.locator("#verify").click()
        codes = page.locator("#recovery-codes li")
        expect(codes).to_have_count(10)
        recovery = codes.first.inner_text()
        screenshot(page, "console-recovery-codes.png")
        page.locator("#continue").click()
        expect(page.get_by_text("Logged in as")).to_be_visible(timeout=60_000)
        expect(page.get_by_role("tab", name="Privacy requests")).to_be_visible()
    assert all(url.startswith(site.url.rstrip("/")) for url in requests)  # nothing from elsewhere
    assert site.staff.two_factor.enabled("pia")
    assert site.code_step(site.password_step("pia"), recovery).status_code == 303  # a recovery code works
    assert site.code_step(site.password_step("pia"), recovery).status_code == 401  # once


def test_console_needs_a_session_and_logout_ends_it(site: Site) -> None:
    from gradio_client import Client

    page = httpx.get(site.url + "admin/", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/admin/login"
    with pytest.raises(Exception):  # noqa: B017 - the client cannot even read the API without a session
        Client(site.url + "admin/", verbose=False).predict(api_name="/config_view")
    token = site.login("admin").cookies["staff_session"]
    console = console_client(site.url, token)
    assert console.predict(api_name="/config_view")["retention_days"] == site.settings.retention_days
    out = httpx.get(site.url + "admin/logout", cookies={"staff_session": token}, follow_redirects=False)
    assert out.status_code == 303
    with pytest.raises(Exception, match="401|session has ended"):
        console.predict(api_name="/config_view")
    entries = site.subjects.audit.entries()
    assert any(e["event"] == "staff_logout" and e["actor"] == "staff:admin" for e in entries)


def test_sessions_expire_when_idle(site: Site) -> None:
    short = StaffDirectory(site.subjects.store.engine, site.staff.two_factor, session_minutes=0.05)  # 3 s
    token = short.login("support-lead", PASSWORD).token
    assert short.session(token) is not None
    threading.Event().wait(4.5)
    assert short.session(token) is None


@pytest.mark.parametrize("role", ROLES)
def test_each_role_can_call_only_its_own_actions(site: Site, role: str) -> None:
    console = site.console(role.replace("_", "-"))
    for action, args in ACTION_ARGS.items():
        if action in ROLE_ACTIONS[role]:
            continue
        with pytest.raises(Exception, match="may not use"):
            console.predict(*args, api_name=f"/{action}")
    denied = [e for e in site.subjects.audit.entries()[-40:] if e["details"].get("allowed") is False]
    assert denied and all(e["actor"] == f"staff:{role.replace('_', '-')}" for e in denied[-3:])
    assert set().union(*ROLE_ACTIONS.values()) == set(ACTION_ARGS)  # every action is covered


def test_handoff_round_trip(site: Site) -> None:
    customer = site.customer()
    customer.predict(api_name="/consent_none")
    customer.predict("Wie wird das Wetter morgen in Hamburg?", api_name="/chat")
    status = _first(customer.predict("jana@example.de", False, api_name="/handoff"))
    assert "Please confirm" in status  # the contact is used only with consent (API clients: English)
    status = _first(customer.predict("jana@example.de", True, api_name="/handoff"))
    assert "Ticket" in status
    number = int(status.split("#")[1].split("*")[0])

    lead = site.console("support-lead")
    inbox = lead.predict(api_name="/handoff_inbox")
    row = next(r for r in inbox["data"] if r[0] == number)
    assert row[2] == "jana@example.de" and "Wetter" in row[3]
    assert Hook.received and Hook.received[-1]["ticket"] == number  # the helpdesk webhook got it
    message, inbox = lead.predict(number, api_name="/handoff_done")
    assert "done" in message and all(r[0] != number for r in inbox["data"])
    events = [e["event"] for e in site.subjects.audit.entries()]
    assert "handoff_created" in events and "handoff_done" in events


def test_gaps_are_grouped_most_frequent_first(site: Site) -> None:
    customer = site.customer()
    customer.predict(api_name="/consent_store")
    for question in (
        "Wie wird das Wetter morgen in Hamburg?",
        "Regnet es morgen in Hamburg?",
        "What is the capital of Australia?",
    ):
        _, chat = customer.predict(question, api_name="/chat")
    customer.predict("How long do I have to return an item?", api_name="/chat")
    customer.predict(api_name="/rate_down")
    gaps = site.console("support-lead").predict(api_name="/gaps")
    rows = gaps["data"]
    assert rows[0][0] >= 2 and "Hamburg" in rows[0][3]  # the weather questions form the biggest group
    assert any("Australia" in r[3] for r in rows) and any(r[2] >= 1 for r in rows)  # thumbs down counted
    assert all(r[4] for r in rows)  # each with its closest article


def test_simulation_from_the_console_and_comparison(site: Site, tmp_path: Path) -> None:
    tickets = tmp_path / "tickets.csv"
    tickets.write_text(
        "question,expected_article\n"
        "How long do I have to return an item?,en-returns\n"
        "Kann ich auf Rechnung zahlen?,de-rechnungskauf\n"
        "Wie wird das Wetter morgen?,\n",
        encoding="utf-8",
    )
    from gradio_client import handle_file

    lead = site.console("support-lead")
    live, draft = str(site.settings.knowledge_dir), str(site.settings.draft_knowledge_dirs[0])
    first = lead.predict(handle_file(str(tickets)), live, True, api_name="/simulate")
    assert "3 questions" in first[0] and "refused" in first[0]
    second = lead.predict(handle_file(str(tickets)), draft, True, api_name="/simulate")
    runs = second[2]["choices"]
    assert len(runs) >= 2
    table, chart = lead.predict(runs[0][0], runs[1][0], api_name="/simulation_compare")
    figures = {row[0]: row for row in table["data"]}
    assert figures["questions"][1:] == ["3", "3"]
    assert {"answered", "refused", "citation_accuracy"} <= figures.keys()
    with pytest.raises(Exception, match="configured draft folders|not in the list of choices"):
        lead.predict(handle_file(str(tickets)), "/etc", True, api_name="/simulate")


def test_privacy_officer_finds_exports_and_erases(site: Site) -> None:
    customer = site.customer()
    _, code, *_ = customer.predict(api_name="/consent_store")
    customer.predict("Meine Mail ist jana@example.de – kann ich auf Rechnung zahlen?", api_name="/chat")
    officer = site.console("privacy-officer")
    found = officer.predict(code, api_name="/privacy_find")
    assert "2 messages" in found and "consent_given" in found
    exported = officer.predict(code, api_name="/privacy_export")
    data = json.loads(Path(exported).read_text())
    assert data["reference_code"] == code and "[EMAIL]" in data["messages"][0]["text"]
    number = data["messages"][0]["number"]
    assert "corrected" in officer.predict(
        code, "message", number, "Kann ich auf Rechnung zahlen?", api_name="/privacy_rectify"
    )
    assert "Restricted since: 20" in officer.predict(code, "restrict", api_name="/privacy_limit")
    assert "Restricted since: 20" in officer.predict(code, api_name="/privacy_find")
    entries = [e for e in site.subjects.audit.entries() if e["event"] in ("rectification", "restriction")]
    assert [e["actor"] for e in entries[-2:]] == ["staff:privacy-officer"] * 2
    corrected = json.loads(Path(officer.predict(code, api_name="/privacy_export")).read_text())
    assert corrected["messages"][0]["text"] == "Kann ich auf Rechnung zahlen?"
    assert [r["by"] for r in corrected["requests"]] == ["staff", "staff"]
    with pytest.raises(Exception, match="I confirm"):
        officer.predict(code, False, api_name="/privacy_erase")
    assert "Record of processing" in officer.predict(api_name="/privacy_records")
    report = officer.predict("2020-01-01", api_name="/privacy_incident")
    assert "DRAFT – notification of a personal data breach" in report and code not in report
    assert site.subjects.audit.entries()[-1]["actor"] == "staff:privacy-officer"
    with pytest.raises(Exception, match="not a date or time"):
        officer.predict("yesterday-ish", api_name="/privacy_incident")
    receipt = officer.predict(code, True, api_name="/privacy_erase")
    assert '"messages_deleted": 2' in receipt
    assert officer.predict(api_name="/audit_verify").startswith("✅")
    stats = officer.predict(api_name="/redaction_stats")
    assert any(row[1] == "EMAIL" for row in stats["data"])


def test_cli_users(site: Site, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    data = ["--data-dir", str(site.settings.data_dir)]
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["users", "add", "kim", "--role", "admin", "--password-stdin", *data]) == 2  # too short
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{PASSWORD}\n"))
    assert main(["users", "add", "kim", "--role", "admin", "--password-stdin", *data]) == 0
    assert main(["users", "list", *data]) == 0
    assert "kim" in capsys.readouterr().out
    assert main(["users", "remove", "kim", *data]) == 0
    assert "kim" not in [u.username for u in site.staff.users()]


def test_console_page_in_headless_chromium(site: Site) -> None:
    requests: list[str] = []
    with chromium_page(requests) as page:  # skips without Playwright, so import `expect` only now
        from playwright.sync_api import expect

        page.goto(site.url + "admin/")
        page.locator("#username").fill("support-lead")
        page.locator("#password").fill(PASSWORD)
        page.locator("#login").click()
        page.get_by_text("Logged in as").wait_for(timeout=60_000)
        expect(page.get_by_role("tab", name="Knowledge", exact=True)).to_be_visible()
        expect(page.get_by_role("tab", name="Users")).to_be_hidden()  # not this role's
        expect(page.get_by_role("tab", name="Overview")).to_be_visible()
        page.get_by_role("tab", name="Knowledge", exact=True).click()
        page.get_by_role("button", name="Refresh").click()
        expect(page.get_by_text("47 articles")).to_be_visible(timeout=60_000)
        screenshot(page, "console-page.png")
    assert all(url.startswith((site.url.rstrip("/"), "data:", "blob:")) for url in requests)


def _first(result: Any) -> Any:
    return result[0] if isinstance(result, (list, tuple)) else result


def test_reindex_retention_audit_and_users_from_the_console(site: Site) -> None:
    lead = site.console("support-lead")
    summary, articles, problems = lead.predict("all", "all", "all", api_name="/knowledge_status")
    assert "**47 articles** (2 draft, 45 published; 47 shown)" in summary and not problems["data"]
    assert len(articles["data"]) == 47
    assert "unchanged 47" in lead.predict(api_name="/reindex")
    assert site.subjects.audit.entries()[-1]["event"] == "reindex"

    officer = site.console("privacy-officer")
    retention = officer.predict(api_name="/retention_view")
    assert f"{site.settings.retention_days} days" in retention
    assert f"handoff tickets {site.settings.ticket_retention_days} days after done" in retention
    audit = officer.predict(api_name="/audit_view")
    assert audit["headers"][:3] == ["#", "time", "event"] and audit["data"]

    admin = site.console("admin")
    message, users = admin.predict("new-lead", "support_lead", PASSWORD, api_name="/users_add")
    assert "Added new-lead" in message and any(row[0] == "new-lead" for row in users["data"])
    assert "unlocked" in admin.predict("new-lead", "another long password", api_name="/users_reset")
    assert site.login("new-lead", "another long password").status_code == 303
    message, users = admin.predict("new-lead", api_name="/users_remove")
    assert all(row[0] != "new-lead" for row in users["data"])
    config = admin.predict(api_name="/config_view")
    assert config["master_key"] == "(key file)" and "password" not in json.dumps(config).lower()
    target = site.settings.data_dir.parent / "console-backup"
    assert "Backup written to" in admin.predict(str(target), PASSWORD, api_name="/backup_create")
    assert (target / "manifest.json").exists() and site.subjects.audit.entries()[-1][
        "event"
    ] == "backup_created"
    with pytest.raises(Exception, match="not empty"):
        admin.predict(str(target), PASSWORD, api_name="/backup_create")
