"""Staff two-factor login: TOTP secrets (RFC 6238, `pyotp`) sealed at rest, single-use recovery codes, and
the QR code an authenticator app scans.

The secret of each account is sealed with AES-GCM under a key derived from the master key (bound to the
user name), so a copy of the database alone gives it away to nobody. Recovery codes are 80 random bits
each, stored only as SHA-256 hashes and marked when used. An accepted TOTP code's time step is kept, so
the same code (or an older one) is never accepted twice.

Everything lives in the conversation store's database, in tables of its own (`staff_totp`,
`staff_recovery_codes`), next to the accounts.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import time
from collections.abc import Callable
from dataclasses import dataclass

import pyotp
import segno
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from agent.clock import iso as _iso
from agent.privacy.crypto import Keyring, new_reference_code, normalise_reference_code

RECOVERY_CODES = 10
TOTP_STEP_S = 30
_TWO_FACTOR = sa.MetaData()
STAFF_TOTP = sa.Table(
    "staff_totp",
    _TWO_FACTOR,
    sa.Column("username", sa.String(40), primary_key=True),
    sa.Column("sealed_secret", sa.LargeBinary, nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("confirmed_at", sa.String(32)),  # None: enrolment started in the console, not confirmed yet
    sa.Column("last_step", sa.Integer),  # time step of the newest accepted code (no replay)
)
STAFF_RECOVERY_CODES = sa.Table(
    "staff_recovery_codes",
    _TWO_FACTOR,
    sa.Column("code_hash", sa.String(64), primary_key=True),
    sa.Column("username", sa.String(40), nullable=False, index=True),
    sa.Column("used_at", sa.String(32)),
)


@dataclass(frozen=True)
class Enrolment:
    """What a staff member puts into an authenticator app, and their recovery codes (shown once)."""

    username: str
    secret: str  # base32, for typing in by hand
    uri: str  # otpauth://totp/…, the content of the QR code
    recovery_codes: tuple[str, ...] = ()

    def qr_svg(self) -> str:
        """The QR code as an inline <svg> element (no external resources)."""
        return segno.make(self.uri, error="m").svg_inline(scale=5, dark="#000", light="#fff")

    def qr_terminal(self) -> str:
        """The QR code drawn with block characters for a terminal."""
        out = io.StringIO()
        segno.make(self.uri, error="m").terminal(out=out, compact=True)
        return out.getvalue()


class TwoFactor:
    """TOTP secrets and recovery codes of the staff accounts."""

    def __init__(
        self,
        engine: Engine,
        keyring: Keyring,
        *,
        issuer: str = "Support console",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = engine
        self._keyring = keyring
        self.issuer = issuer
        self.clock = clock  # seconds since the epoch; tests may step it
        _TWO_FACTOR.create_all(engine)

    def enabled(self, username: str) -> bool:
        """True when the account has a confirmed authenticator."""
        with self._db.connect() as conn:
            confirmed = conn.execute(
                sa.select(STAFF_TOTP.c.confirmed_at).where(STAFF_TOTP.c.username == username)
            ).scalar()
        return confirmed is not None

    def enrolled_users(self) -> set[str]:
        """The accounts with a confirmed authenticator."""
        with self._db.connect() as conn:
            rows = conn.execute(sa.select(STAFF_TOTP.c.username).where(STAFF_TOTP.c.confirmed_at.isnot(None)))
            return {row.username for row in rows}

    def recovery_codes_left(self, username: str) -> int:
        """How many unused recovery codes the account has."""
        with self._db.connect() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count())
                    .select_from(STAFF_RECOVERY_CODES)
                    .where(
                        STAFF_RECOVERY_CODES.c.username == username, STAFF_RECOVERY_CODES.c.used_at.is_(None)
                    )
                ).scalar_one()
            )

    # enrolment ----------------------------------------------------------------------------------
    def enable(self, username: str) -> Enrolment:
        """A new confirmed secret and new recovery codes, replacing any earlier ones (command line)."""
        secret = pyotp.random_base32()
        codes = self._replace(username, secret, confirmed=True)
        return self._enrolment(username, secret, codes)

    def begin(self, username: str) -> Enrolment:
        """The unconfirmed secret of a console enrolment (the one started earlier, else a new one)."""
        with self._db.connect() as conn:
            row = (
                conn.execute(sa.select(STAFF_TOTP).where(STAFF_TOTP.c.username == username))
                .mappings()
                .first()
            )
        if row is not None and row["confirmed_at"] is None:
            return self._enrolment(username, self._secret(username, row["sealed_secret"]), ())
        secret = pyotp.random_base32()
        self._replace(username, secret, confirmed=False)
        return self._enrolment(username, secret, ())

    def confirm(self, username: str, code: str) -> tuple[str, ...] | None:
        """Confirm a console enrolment with its first code: the new recovery codes, or None if wrong."""
        with self._db.connect() as conn:
            row = (
                conn.execute(sa.select(STAFF_TOTP).where(STAFF_TOTP.c.username == username))
                .mappings()
                .first()
            )
        if row is None or row["confirmed_at"] is not None or not self._accept_totp(row, code):
            return None
        codes = tuple(new_reference_code() for _ in range(RECOVERY_CODES))
        with self._db.begin() as conn:
            conn.execute(
                STAFF_TOTP.update().where(STAFF_TOTP.c.username == username).values(confirmed_at=_iso())
            )
            self._store_codes(conn, username, codes)
        return codes

    def disable(self, username: str) -> bool:
        """Remove the account's secret and recovery codes; False if it had none."""
        with self._db.begin() as conn:
            conn.execute(sa.delete(STAFF_RECOVERY_CODES).where(STAFF_RECOVERY_CODES.c.username == username))
            return bool(conn.execute(sa.delete(STAFF_TOTP).where(STAFF_TOTP.c.username == username)).rowcount)

    # login --------------------------------------------------------------------------------------
    def check(self, username: str, code: str) -> str | None:
        """How a login code was accepted: "totp", "recovery_code" (now used up), or None (wrong, reused,
        or no confirmed authenticator)."""
        code = (code or "").strip().replace(" ", "")
        with self._db.connect() as conn:
            row = (
                conn.execute(sa.select(STAFF_TOTP).where(STAFF_TOTP.c.username == username))
                .mappings()
                .first()
            )
        if row is None or row["confirmed_at"] is None:
            return None
        if len(code) == 6 and code.isdigit():
            return "totp" if self._accept_totp(row, code) else None
        recovery = normalise_reference_code(code)
        if recovery is None:
            return None
        with self._db.begin() as conn:
            used = conn.execute(
                STAFF_RECOVERY_CODES.update()
                .where(
                    STAFF_RECOVERY_CODES.c.code_hash == _code_hash(recovery),
                    STAFF_RECOVERY_CODES.c.username == username,
                    STAFF_RECOVERY_CODES.c.used_at.is_(None),
                )
                .values(used_at=_iso())
            ).rowcount
        return "recovery_code" if used else None

    # internals ----------------------------------------------------------------------------------
    def _accept_totp(self, row: sa.RowMapping, code: str) -> bool:
        """True for the code of the current, previous or next time step if that step is newer than the
        last accepted one; the step is recorded in the same statement (no replay, also across replicas)."""
        totp = pyotp.TOTP(self._secret(row["username"], row["sealed_secret"]), interval=TOTP_STEP_S)
        now = int(self.clock() // TOTP_STEP_S)
        for step in (now - 1, now, now + 1):
            if hmac.compare_digest(totp.generate_otp(step), code):
                with self._db.begin() as conn:
                    return bool(
                        conn.execute(
                            STAFF_TOTP.update()
                            .where(
                                STAFF_TOTP.c.username == row["username"],
                                sa.or_(STAFF_TOTP.c.last_step.is_(None), STAFF_TOTP.c.last_step < step),
                            )
                            .values(last_step=step)
                        ).rowcount
                    )
        return False

    def _replace(self, username: str, secret: str, *, confirmed: bool) -> tuple[str, ...]:
        codes = tuple(new_reference_code() for _ in range(RECOVERY_CODES)) if confirmed else ()
        now = _iso()
        with self._db.begin() as conn:
            conn.execute(sa.delete(STAFF_RECOVERY_CODES).where(STAFF_RECOVERY_CODES.c.username == username))
            conn.execute(sa.delete(STAFF_TOTP).where(STAFF_TOTP.c.username == username))
            conn.execute(
                STAFF_TOTP.insert().values(
                    username=username,
                    sealed_secret=self._keyring.seal_staff_secret(secret.encode(), username),
                    created_at=now,
                    confirmed_at=now if confirmed else None,
                    last_step=None,
                )
            )
            self._store_codes(conn, username, codes)
        return codes

    @staticmethod
    def _store_codes(conn: sa.Connection, username: str, codes: tuple[str, ...]) -> None:
        if codes:
            conn.execute(
                STAFF_RECOVERY_CODES.insert(),
                [{"code_hash": _code_hash(code), "username": username, "used_at": None} for code in codes],
            )

    def _secret(self, username: str, sealed: bytes) -> str:
        return self._keyring.open_staff_secret(sealed, username).decode()

    def _enrolment(self, username: str, secret: str, codes: tuple[str, ...]) -> Enrolment:
        uri = pyotp.TOTP(secret, interval=TOTP_STEP_S).provisioning_uri(
            name=username, issuer_name=self.issuer
        )
        return Enrolment(username, secret, uri, codes)


def _code_hash(code: str) -> str:
    """SHA-256 of a normalised recovery code (80 random bits: a plain hash is enough)."""
    return hashlib.sha256(code.encode()).hexdigest()
