"""Abuse protection: how often one visitor, or one IP address, may ask, consent or open a ticket.

Every answer costs seconds of CPU, so a script posting questions in a loop would take the service down
for everyone. Limits are counted in memory only, under salted hashes: the salt is random per process,
so no address or session id is ever stored or logged, and a restart forgets everything.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from agent.runtime.metrics import RATE_LIMITED
from agent.web_settings import WebSettings

ACTIONS = ("question", "consent", "ticket")


@dataclass(frozen=True)
class _Rule:
    item: RateLimitItem
    per: str  # "visitor" (one browser session) or "address" (one IP address)


class RateLimits:
    """Moving-window limits per action. `minute_s` is the length of a minute (shorter in tests)."""

    def __init__(self, settings: WebSettings, *, minute_s: int = 60) -> None:
        self.enabled = settings.rate_limits
        self._storage = MemoryStorage()
        self._limiter = MovingWindowRateLimiter(self._storage)
        self._salt = secrets.token_bytes(16)
        minute, hour = minute_s, 60 * minute_s
        self._rules = {
            "question": [
                _Rule(RateLimitItemPerSecond(settings.questions_per_minute, minute), "visitor"),
                _Rule(RateLimitItemPerSecond(settings.questions_per_minute_per_address, minute), "address"),
            ],
            "consent": [
                _Rule(RateLimitItemPerSecond(settings.consents_per_hour_per_address, hour), "address")
            ],
            "ticket": [_Rule(RateLimitItemPerSecond(settings.tickets_per_hour_per_address, hour), "address")],
        }

    def allow(self, action: str, *, visitor: str | None, address: str | None) -> bool:
        """Count one `action` for this visitor and address; False (and not counted) when over a limit."""
        if not self.enabled:
            return True
        keys = {"visitor": visitor, "address": address}
        checks = [(rule.item, self._pseudonym(rule.per, keys[rule.per])) for rule in self._rules[action]]
        checks = [(item, key) for item, key in checks if key]
        if not all(self._limiter.test(item, action, key) for item, key in checks):
            RATE_LIMITED.labels(action).inc()
            return False
        for item, key in checks:
            self._limiter.hit(item, action, key)
        return True

    def reset(self) -> None:
        """Forget every count (all windows start again)."""
        self._storage.reset()

    def _pseudonym(self, kind: str, value: str | None) -> str | None:
        if not value:
            return None
        return hashlib.blake2b(f"{kind}:{value}".encode(), key=self._salt, digest_size=16).hexdigest()
