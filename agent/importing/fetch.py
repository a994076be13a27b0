"""The importer's HTTP client: GETs spaced `delay_s` apart, never following redirects by itself (each
caller decides which hosts it may follow), a transport error becoming ImportRefused."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from agent.importing.model import ImportRefused

if TYPE_CHECKING:
    import httpx

USER_AGENT = "support-agent-import/1.0 (help-center import; honours robots.txt)"


class SpacedClient:
    """One host's requests, at least `delay_s` apart (a site's Crawl-delay may raise it)."""

    def __init__(self, headers: dict[str, str], *, delay_s: float, timeout_s: float) -> None:
        import httpx

        self.delay_s = delay_s
        self._client = httpx.Client(
            headers={"User-Agent": USER_AGENT, **headers}, timeout=timeout_s, follow_redirects=False
        )
        self._last = 0.0

    def get(self, url: str, *, name: str) -> httpx.Response:
        """One GET after the delay; `name` says in an error what could not be reached."""
        import httpx

        wait = self._last + self.delay_s - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        try:
            return self._client.get(url)
        except httpx.HTTPError as exc:
            raise ImportRefused(f"{name} cannot be reached ({type(exc).__name__}).") from None
        finally:
            self._last = time.monotonic()

    def close(self) -> None:
        self._client.close()
