"""The one clock of the package: timezone-aware UTC now, and the ISO text every store and record keeps.

Times are stored as ISO 8601 text to the second in UTC ("2026-11-29T12:37:48+00:00"), so they sort and
compare as strings in SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def iso(moment: datetime | None = None) -> str:
    """`moment` (now if None) as ISO text to the second in UTC."""
    return (moment or utc_now()).astimezone(UTC).isoformat(timespec="seconds")
