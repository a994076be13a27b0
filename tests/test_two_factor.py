"""Staff two-factor login on the real staff services and database: who needs a code, enrolment, TOTP and
recovery codes, replay, lockout and audit, the `users totp` commands, and the secret sealed at rest.
The login pages and the enrolment in a browser are tested through the served app in test_console.py."""

from __future__ import annotations

import io
import json
import re
import time
from pathlib import Path

import pyotp
import pytest

from agent.cli import main
from agent.staff.accounts import LoggedIn, LoginRefused, SecondStep
from agent.staff.services import StaffServices
from agent.wiring import build_services
from tests.conftest import make_settings

PASSWORD = "correct horse battery staple"
WRONG = "Wrong user name or password."


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def _staff(data_dir: Path, **overrides: object) -> StaffServices:
    return build_services(make_settings(data_dir, max_failed_logins=3, **overrides)).staff_services


@pytest.fixture
def staff(data_dir: Path) -> StaffServices:
    return _staff(data_dir)


def _second_step(staff: StaffServices, username: str, password: str = PASSWORD) -> SecondStep:
    step = staff.login(username, password)
    assert isinstance(step, SecondStep), step
    return step


def _enabled(staff: StaffServices, username: str, role: str) -> str:
    """Add an account with an authenticator (as `users totp enable` does); its secret."""
    staff.add_user(username, role, PASSWORD, "cli:test")
    return staff.enable_totp(username, "cli:test").secret


def _wrong(right: str) -> str:
    """A well-formed code that is not `right`."""
    return next(code for code in ("314159", "271828") if code != right)


def _events(staff: StaffServices) -> list[tuple[str, str, dict]]:
    return [(e["event"], e["actor"], e["details"]) for e in staff.audit_entries()]


def test_a_required_role_enrols_with_its_first_code_and_then_always_needs_one(staff: StaffServices) -> None:
    staff.add_user("anna", "admin", PASSWORD, "cli:test")
    step = _second_step(staff, "anna")
    assert step.enrolment is not None and step.enrolment.uri.startswith("otpauth://totp/")
    assert "<svg" in step.enrolment.qr_svg() and "http" not in step.enrolment.qr_svg().replace(
        "http://www.w3.org/2000/svg", ""
    )  # inline, nothing to fetch
    assert _second_step(staff, "anna").enrolment.secret == step.enrolment.secret  # same QR until confirmed

    done = staff.login_code(step.token, pyotp.TOTP(step.enrolment.secret).now())
    assert isinstance(done, LoggedIn) and done.factor == "totp" and len(done.recovery_codes) == 10
    assert staff.session(done.token).username == "anna"
    again = _second_step(staff, "anna")
    assert again.enrolment is None  # enrolled: the code page from now on
    assert [u.two_factor for u in staff.users()] == [True]
    events = _events(staff)
    assert ("staff_totp_enabled", "staff:anna", {"user": "anna"}) in events
    assert ("staff_login_code_asked", "staff:anna", {"enrol": True}) in events
    assert ("staff_login", "staff:anna", {"ok": True, "role": "admin", "factor": "totp"}) in events


def test_a_wrong_first_code_does_not_enrol(staff: StaffServices) -> None:
    staff.add_user("anna", "privacy_officer", PASSWORD, "cli:test")
    step = _second_step(staff, "anna")
    with pytest.raises(LoginRefused, match=WRONG):
        staff.login_code(step.token, _wrong(pyotp.TOTP(step.enrolment.secret).now()))
    assert _second_step(staff, "anna").enrolment is not None


def test_the_right_code_logs_in_once_and_a_replayed_code_is_refused(staff: StaffServices) -> None:
    secret = _enabled(staff, "pia", "privacy_officer")
    code = pyotp.TOTP(secret).now()
    done = staff.login_code(_second_step(staff, "pia").token, code)
    assert done.session.role == "privacy_officer" and done.recovery_codes == ()
    with pytest.raises(LoginRefused, match=WRONG):
        staff.login_code(_second_step(staff, "pia").token, code)  # the same code again
    older = pyotp.TOTP(secret).at(time.time() - 30)  # the previous step's: in the window, but older
    with pytest.raises(LoginRefused, match=WRONG):
        staff.login_code(_second_step(staff, "pia").token, older)


def test_a_step_token_works_once(staff: StaffServices) -> None:
    secret = _enabled(staff, "pia", "privacy_officer")
    step = _second_step(staff, "pia")
    with pytest.raises(LoginRefused):
        staff.login_code(step.token, "12345")  # malformed: wrong
    with pytest.raises(LoginRefused, match="log in again"):
        staff.login_code(step.token, pyotp.TOTP(secret).now())
    with pytest.raises(LoginRefused, match="log in again"):
        staff.login_code("made-up", pyotp.TOTP(secret).now())


def test_wrong_codes_count_towards_the_lockout_and_are_audited(staff: StaffServices) -> None:
    secret = _enabled(staff, "anna", "admin")
    right = pyotp.TOTP(secret).now()
    wrong = _wrong(right)
    with pytest.raises(LoginRefused, match=WRONG):
        staff.login("anna", "not the password")  # 1
    with pytest.raises(LoginRefused, match=WRONG):
        staff.login_code(_second_step(staff, "anna").token, wrong)  # 2: the password did not reset it
    with pytest.raises(LoginRefused, match="locked"):
        staff.login_code(_second_step(staff, "anna").token, "QQQQ-QQQQ-QQQQ-QQQQ")  # 3: locked
    with pytest.raises(LoginRefused, match="locked"):
        staff.login("anna", PASSWORD)  # even the right password, while locked
    failures = [d for event, actor, d in _events(staff) if event == "staff_login" and actor == "staff:anna"]
    assert [d.get("step") for d in failures] == ["password", "code", "code", "password"]
    assert all(d["ok"] is False for d in failures)
    trail = json.dumps(staff.audit_entries())
    assert wrong not in trail and right not in trail and secret not in trail and "QQQQ" not in trail

    staff.reset_password("anna", PASSWORD, "cli:test")  # an admin unlocks it; the authenticator stays
    assert _second_step(staff, "anna").enrolment is None


def test_a_recovery_code_works_once(staff: StaffServices, capsys: pytest.CaptureFixture[str]) -> None:
    staff.add_user("anna", "admin", PASSWORD, "cli:test")
    codes = staff.enable_totp("anna", "cli:test").recovery_codes
    typed = codes[3].lower().replace("-", " ")  # case and separators do not matter
    done = staff.login_code(_second_step(staff, "anna").token, typed)
    assert done.factor == "recovery_code"
    with pytest.raises(LoginRefused, match=WRONG):
        staff.login_code(_second_step(staff, "anna").token, codes[3])
    assert staff.login_code(_second_step(staff, "anna").token, codes[4]).factor == "recovery_code"
    logins = [d for e, _, d in _events(staff) if e == "staff_login" and d["ok"]]
    assert logins[-1] == {"ok": True, "role": "admin", "factor": "recovery_code", "recovery_codes_left": 8}


def test_support_leads_need_a_code_only_when_configured_or_enrolled(data_dir: Path) -> None:
    staff = _staff(data_dir)
    staff.add_user("lena", "support_lead", PASSWORD, "cli:test")
    done = staff.login("lena", PASSWORD)
    assert isinstance(done, LoggedIn) and done.factor == "password"

    strict = _staff(data_dir, staff_two_factor_roles=["support_lead", "privacy_officer", "admin"])
    assert _second_step(strict, "lena").enrolment is not None

    secret = _enabled(staff, "tom", "support_lead")  # enrolled by choice: a code at every login
    assert _second_step(staff, "tom").enrolment is None
    assert staff.login_code(_second_step(staff, "tom").token, pyotp.TOTP(secret).now()).factor == "totp"


def test_cli_users_totp_enable_disable_reset(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = ["--data-dir", str(data_dir)]
    for name, role in (("lena", "support_lead"), ("anna", "admin")):
        monkeypatch.setattr("sys.stdin", io.StringIO(f"{PASSWORD}\n"))
        assert main(["users", "add", name, "--role", role, "--password-stdin", *data]) == 0
    capsys.readouterr()

    assert main(["users", "totp", "enable", "lena", *data]) == 0
    printed = capsys.readouterr().out
    secret = re.search(r"add the key ([A-Z2-7]+)", printed).group(1)
    codes = re.findall(r"^  ([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})$", printed, re.M)
    assert f"secret={secret}" in printed and "▀" in printed and len(codes) == 10  # URI, QR code, codes
    staff = _staff(data_dir)
    assert staff.login_code(_second_step(staff, "lena").token, pyotp.TOTP(secret).now()).factor == "totp"
    assert main(["users", "totp", "enable", "lena", *data]) == 2
    assert "already" in capsys.readouterr().err

    assert main(["users", "totp", "reset", "lena", *data]) == 0
    new_secret = re.search(r"add the key ([A-Z2-7]+)", capsys.readouterr().out).group(1)
    assert new_secret != secret
    with pytest.raises(LoginRefused):
        staff.login_code(_second_step(staff, "lena").token, codes[0])  # the old recovery codes are gone
    assert staff.login_code(_second_step(staff, "lena").token, pyotp.TOTP(new_secret).now()).factor == "totp"

    assert main(["users", "list", *data]) == 0
    assert re.search(r"^lena +support_lead +active +2fa ", capsys.readouterr().out, re.M)
    assert main(["users", "totp", "disable", "lena", *data]) == 0
    assert isinstance(staff.login("lena", PASSWORD), LoggedIn)  # her role needs none

    assert main(["users", "totp", "enable", "anna", *data]) == 0
    assert main(["users", "totp", "disable", "anna", *data]) == 2  # an admin must keep it
    assert "users totp reset anna" in capsys.readouterr().err
    assert main(["users", "totp", "enable", "nobody", *data]) == 2
    assert main(["users", "totp", "switch", "lena", *data]) == 2
    assert "usage: users totp enable|disable|reset USERNAME" in capsys.readouterr().err

    events = [(e, a.split(":")[0], d.get("user")) for e, a, d in _events(staff) if e.startswith("staff_totp")]
    assert events == [
        ("staff_totp_enabled", "cli", "lena"),
        ("staff_totp_reset", "cli", "lena"),
        ("staff_totp_disabled", "cli", "lena"),
        ("staff_totp_enabled", "cli", "anna"),
    ]
    assert secret not in json.dumps(staff.audit_entries())


def test_the_secret_and_recovery_codes_are_not_stored_in_plain_text(
    staff: StaffServices, data_dir: Path
) -> None:
    staff.add_user("anna", "admin", PASSWORD, "cli:test")
    enrolment = staff.enable_totp("anna", "cli:test")
    staff.login_code(_second_step(staff, "anna").token, pyotp.TOTP(enrolment.secret).now())
    files = sorted(data_dir.rglob("conversations.db*"))  # the database and its write-ahead log
    assert files and any(b"staff_totp" in f.read_bytes() for f in files)  # the table is there
    stored = b"".join(f.read_bytes() for f in files)
    assert enrolment.secret.encode() not in stored
    assert not any(
        code.encode() in stored or code.replace("-", "").encode() in stored
        for code in enrolment.recovery_codes
    )
