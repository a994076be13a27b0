"""Staff accounts, roles and login sessions for the console (argon2 hashes, lockout, session expiry).

Accounts and sessions live in the conversation store's database, so every replica sees the same ones.
Only a hash of a session token is stored; the token itself is in the staff member's cookie.

Accounts of the roles in `two_factor_roles`, and every account with an authenticator, log in in two
steps: the password gives a short-lived second-step token (only its hash is stored, it works once), and a
TOTP or recovery code with that token gives the session (`agent.staff.two_factor`). A wrong code counts
towards the lockout exactly like a wrong password.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.engine import Engine

from agent.clock import iso as _iso
from agent.clock import utc_now as _now
from agent.errors import AgentError
from agent.staff.two_factor import Enrolment, TwoFactor

# Least privilege: each role sees and may call only its own actions. Checked on the server for every
# call (StaffServices.authorize, from ui/admin/actions.py); the console only hides what a role cannot use.
ROLE_ACTIONS: dict[str, frozenset[str]] = {
    "support_lead": frozenset(
        {
            "overview",
            "knowledge_status",
            "reindex",
            "simulate",
            "simulation_compare",
            "gaps",
            "handoff_inbox",
            "handoff_done",
            "import_run",
            "import_conflicts",
            "import_resolve",
            "drafts_list",
            "drafts_simulate",
            "articles_publish",
            "articles_unpublish",
            "article_versions",
            "article_diff",
            "article_rollback",
            "curated_list",
            "curated_pick",
            "curated_load",
            "curated_save",
            "curated_remove",
        }
    ),
    "privacy_officer": frozenset(
        {
            "privacy_find",
            "privacy_export",
            "privacy_erase",
            "privacy_limit",
            "privacy_rectify",
            "privacy_records",
            "privacy_incident",
            "retention_view",
            "audit_view",
            "audit_verify",
            "redaction_stats",
        }
    ),  # fmt: skip
    "admin": frozenset(
        {"users_list", "users_add", "users_remove", "users_reset", "config_view", "backup_create"}
    ),
}
ROLES = tuple(ROLE_ACTIONS)
DEFAULT_TWO_FACTOR_ROLES = ("privacy_officer", "admin")
SECOND_STEP_MINUTES = 10  # time to type a code (or to scan the QR code when enrolling)
MIN_PASSWORD_CHARS = 12
_WRONG = "Wrong user name or password."
_LOCKED = "Too many failed logins: this account is locked for a while. Ask an admin."
_EXPIRED = "This login took too long or was used already. Please log in again."
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,39}$")

_STAFF = sa.MetaData()
STAFF_USERS = sa.Table(
    "staff_users",
    _STAFF,
    sa.Column("username", sa.String(40), primary_key=True),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("failed_logins", sa.Integer, nullable=False, default=0),
    sa.Column("locked_until", sa.String(32)),
    sa.Column("created_at", sa.String(32), nullable=False),
)
STAFF_SESSIONS = sa.Table(
    "staff_sessions",
    _STAFF,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("username", sa.String(40), nullable=False, index=True),
    sa.Column("expires_at", sa.String(32), nullable=False),
)
STAFF_LOGIN_STEPS = sa.Table(  # a correct password waiting for its code
    "staff_login_steps",
    _STAFF,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("username", sa.String(40), nullable=False),
    sa.Column("expires_at", sa.String(32), nullable=False),
)


class StaffError(AgentError):
    """A staff account operation that cannot be done (unknown user, weak password, …)."""


class LoginRefused(AgentError):
    """Wrong user name, password or code, or a locked account; the message never says which."""

    def __init__(self, message: str, username: str = "") -> None:
        super().__init__(message)
        self.username = username  # for the audit trail (as typed, or the second step's account)


@dataclass(frozen=True)
class StaffUser:
    """An account as shown in lists (never the hash)."""

    username: str
    role: str
    locked: bool
    created_at: str
    two_factor: bool = False  # has a confirmed authenticator


@dataclass(frozen=True)
class StaffSession:
    """A logged-in staff member."""

    username: str
    role: str

    def may(self, action: str) -> bool:
        """True when the role includes the action."""
        return action in ROLE_ACTIONS.get(self.role, frozenset())


@dataclass(frozen=True)
class LoggedIn:
    """A finished login: the new session's token, and how the last step was passed."""

    token: str
    session: StaffSession
    factor: str  # "password" (no second factor needed), "totp" or "recovery_code"
    recovery_codes: tuple[str, ...] = ()  # only right after an enrolment in the console: shown once


@dataclass(frozen=True)
class SecondStep:
    """A correct password of an account that needs a code: `token` carries the login to the code step."""

    token: str
    username: str
    enrolment: Enrolment | None  # set when the account must set up its authenticator first


class StaffDirectory:
    """Accounts, logins and sessions."""

    def __init__(
        self,
        engine: Engine,
        two_factor: TwoFactor,
        *,
        max_failed_logins: int = 5,
        lockout_minutes: int = 15,
        session_minutes: float = 30,
        two_factor_roles: tuple[str, ...] | list[str] = DEFAULT_TWO_FACTOR_ROLES,
    ) -> None:
        self._db = engine
        self.two_factor = two_factor
        self.two_factor_roles = frozenset(two_factor_roles)
        self._hasher = PasswordHasher()
        self._dummy_hash = self._hasher.hash(secrets.token_hex(16))  # same work for unknown users
        self._max_failed = max_failed_logins
        self._lockout = timedelta(minutes=lockout_minutes)
        self._session = timedelta(minutes=session_minutes)
        _STAFF.create_all(engine)

    # accounts -----------------------------------------------------------------------------------
    def add(self, username: str, role: str, password: str) -> None:
        """Create an account."""
        username = _valid_username(username)
        if role not in ROLES:
            raise StaffError(f"Unknown role {role!r}; roles: {', '.join(ROLES)}.")
        row = {
            "username": username,
            "role": role,
            "password_hash": self._hasher.hash(_valid_password(password)),
            "failed_logins": 0,
            "created_at": _iso(_now()),
        }
        with self._db.begin() as conn:
            if conn.execute(
                sa.select(STAFF_USERS.c.username).where(STAFF_USERS.c.username == username)
            ).first():
                raise StaffError(f"The user {username} exists already.")
            conn.execute(STAFF_USERS.insert().values(**row))

    def remove(self, username: str) -> None:
        """Delete an account, its authenticator and recovery codes, and end its sessions."""
        with self._db.begin() as conn:
            conn.execute(sa.delete(STAFF_SESSIONS).where(STAFF_SESSIONS.c.username == username))
            conn.execute(sa.delete(STAFF_LOGIN_STEPS).where(STAFF_LOGIN_STEPS.c.username == username))
            if not conn.execute(sa.delete(STAFF_USERS).where(STAFF_USERS.c.username == username)).rowcount:
                raise StaffError(f"There is no user {username}.")
        self.two_factor.disable(username)

    def reset_password(self, username: str, password: str) -> None:
        """Set a new password, unlock the account and end its sessions."""
        new_hash = self._hasher.hash(_valid_password(password))
        with self._db.begin() as conn:
            updated = conn.execute(
                STAFF_USERS.update()
                .where(STAFF_USERS.c.username == username)
                .values(password_hash=new_hash, failed_logins=0, locked_until=None)
            ).rowcount
            if not updated:
                raise StaffError(f"There is no user {username}.")
            conn.execute(sa.delete(STAFF_SESSIONS).where(STAFF_SESSIONS.c.username == username))

    def end_sessions(self, username: str) -> None:
        """Log an account out everywhere."""
        with self._db.begin() as conn:
            conn.execute(sa.delete(STAFF_SESSIONS).where(STAFF_SESSIONS.c.username == username))

    def users(self) -> list[StaffUser]:
        """Every account, sorted by name."""
        now = _iso(_now())
        with self._db.connect() as conn:
            rows = conn.execute(sa.select(STAFF_USERS).order_by(STAFF_USERS.c.username)).mappings().all()
        enrolled = self.two_factor.enrolled_users()
        return [
            StaffUser(
                r["username"],
                r["role"],
                bool(r["locked_until"] and r["locked_until"] > now),
                r["created_at"],
                r["username"] in enrolled,
            )
            for r in rows
        ]

    def role(self, username: str) -> str:
        """The role of an account; StaffError if there is none."""
        with self._db.connect() as conn:
            role = conn.execute(
                sa.select(STAFF_USERS.c.role).where(STAFF_USERS.c.username == username)
            ).scalar()
        if role is None:
            raise StaffError(f"There is no user {username}.")
        return str(role)

    def requires_two_factor(self, role: str) -> bool:
        """True when every account of `role` must log in with a code (staff_two_factor_roles)."""
        return role in self.two_factor_roles

    # login --------------------------------------------------------------------------------------
    def login(self, username: str, password: str) -> LoggedIn | SecondStep:
        """A new session for a correct password, or – when the account needs a code – the second step;
        LoginRefused otherwise (and counts the failure). The failure count is not reset before the
        code is right too, so a known password does not buy more code guesses."""
        now = _now()
        enrolled = self.two_factor.enabled(username)
        refusal = ""
        second = ""
        with self._db.begin() as conn:  # the failure count must be committed, so refuse after the block
            row = (
                conn.execute(sa.select(STAFF_USERS).where(STAFF_USERS.c.username == username))
                .mappings()
                .first()
            )
            if row is None:
                self._verify(self._dummy_hash, password)
                refusal = _WRONG
            elif row["locked_until"] and row["locked_until"] > _iso(now):
                refusal = _LOCKED
            elif not self._verify(row["password_hash"], password):
                refusal = self._count_failure(conn, username, row["failed_logins"], now)
            elif enrolled or self.requires_two_factor(row["role"]):
                second = secrets.token_urlsafe(32)
                conn.execute(sa.delete(STAFF_LOGIN_STEPS).where(STAFF_LOGIN_STEPS.c.expires_at <= _iso(now)))
                conn.execute(
                    STAFF_LOGIN_STEPS.insert().values(
                        token_hash=_token_hash(second),
                        username=username,
                        expires_at=_iso(now + timedelta(minutes=SECOND_STEP_MINUTES)),
                    )
                )
            else:
                token = self._start_session(conn, username, now)
        if refusal or row is None:
            raise LoginRefused(refusal or _WRONG, username)
        if second:
            return SecondStep(second, username, None if enrolled else self.two_factor.begin(username))
        return LoggedIn(token, StaffSession(username, row["role"]), "password")

    def second_step(self, step_token: str, code: str) -> LoggedIn:
        """The session for the right TOTP or unused recovery code after a correct password (the first
        code also confirms a console enrolment and brings the recovery codes). The step token works
        once; a wrong code counts towards the lockout like a wrong password."""
        now = _now()
        with self._db.begin() as conn:
            step = conn.execute(
                sa.select(STAFF_LOGIN_STEPS).where(
                    STAFF_LOGIN_STEPS.c.token_hash == _token_hash(step_token or "")
                )
            ).first()
            conn.execute(
                sa.delete(STAFF_LOGIN_STEPS).where(
                    STAFF_LOGIN_STEPS.c.token_hash == _token_hash(step_token or "")
                )
            )
        if step is None or step.expires_at <= _iso(now):
            raise LoginRefused(_EXPIRED, step.username if step else "")
        username = step.username
        with self._db.connect() as conn:
            row = (
                conn.execute(sa.select(STAFF_USERS).where(STAFF_USERS.c.username == username))
                .mappings()
                .first()
            )
        if row is None:
            raise LoginRefused(_WRONG, username)
        if row["locked_until"] and row["locked_until"] > _iso(now):
            raise LoginRefused(_LOCKED, username)
        recovery_codes: tuple[str, ...] = ()
        if self.two_factor.enabled(username):
            factor = self.two_factor.check(username, code)
        else:
            recovery_codes = self.two_factor.confirm(username, (code or "").strip()) or ()
            factor = "totp" if recovery_codes else None
        with self._db.begin() as conn:
            if factor is None:
                failed = conn.execute(
                    sa.select(STAFF_USERS.c.failed_logins).where(STAFF_USERS.c.username == username)
                ).scalar_one()
                refusal = self._count_failure(conn, username, failed, now)
            else:
                token = self._start_session(conn, username, now)
        if factor is None:
            raise LoginRefused(refusal, username)
        return LoggedIn(token, StaffSession(username, row["role"]), factor, recovery_codes)

    def session(self, token: str | None) -> StaffSession | None:
        """The session of a token if it is valid and not expired; each use extends it (idle timeout)."""
        if not token:
            return None
        now = _now()
        with self._db.begin() as conn:
            row = conn.execute(
                sa.select(STAFF_SESSIONS.c.username, STAFF_SESSIONS.c.expires_at, STAFF_USERS.c.role)
                .join(STAFF_USERS, STAFF_USERS.c.username == STAFF_SESSIONS.c.username)
                .where(STAFF_SESSIONS.c.token_hash == _token_hash(token))
            ).first()
            if row is None or row.expires_at <= _iso(now):
                conn.execute(sa.delete(STAFF_SESSIONS).where(STAFF_SESSIONS.c.expires_at <= _iso(now)))
                return None
            conn.execute(
                STAFF_SESSIONS.update()
                .where(STAFF_SESSIONS.c.token_hash == _token_hash(token))
                .values(expires_at=_iso(now + self._session))
            )
        return StaffSession(row.username, row.role)

    def logout(self, token: str | None) -> None:
        """End a session."""
        if token:
            with self._db.begin() as conn:
                conn.execute(
                    sa.delete(STAFF_SESSIONS).where(STAFF_SESSIONS.c.token_hash == _token_hash(token))
                )

    def _count_failure(self, conn: sa.Connection, username: str, failed_before: int, now: datetime) -> str:
        """Count a failed login (locking the account at max_failed_logins); the refusal message."""
        failed = failed_before + 1
        locked = _iso(now + self._lockout) if failed >= self._max_failed else None
        conn.execute(
            STAFF_USERS.update()
            .where(STAFF_USERS.c.username == username)
            .values(failed_logins=0 if locked else failed, locked_until=locked)
        )
        return _LOCKED if locked else _WRONG

    def _start_session(self, conn: sa.Connection, username: str, now: datetime) -> str:
        """A new session token (its hash stored); the failure count starts again."""
        token = secrets.token_urlsafe(32)
        conn.execute(STAFF_USERS.update().where(STAFF_USERS.c.username == username).values(failed_logins=0))
        conn.execute(
            STAFF_SESSIONS.insert().values(
                token_hash=_token_hash(token), username=username, expires_at=_iso(now + self._session)
            )
        )
        return token

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False


def _valid_username(username: str) -> str:
    name = (username or "").strip().lower()
    if not _USERNAME.match(name):
        raise StaffError("A user name has 2–40 lowercase letters, digits, '.', '_' or '-'.")
    return name


def _valid_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD_CHARS:
        raise StaffError(f"A staff password needs at least {MIN_PASSWORD_CHARS} characters.")
    return password


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
